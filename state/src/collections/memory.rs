//! collections: the in-process side, under the backend's one lock.

use crate::memory::*;

impl State {
    pub(crate) fn set_add(&mut self, key: &str, member: &str) -> bool {
        self.sets
            .entry(key.to_owned())
            .or_default()
            .insert(member.to_owned())
    }

    pub(crate) fn set_remove(&mut self, key: &str, member: &str) -> bool {
        self.sets.get_mut(key).is_some_and(|s| s.remove(member))
    }

    pub(crate) fn list_push(&mut self, key: &str, value: &[u8], cap: usize) {
        let list = self.lists.entry(key.to_owned()).or_default();
        list.push_back(value.to_vec());
        while list.len() > cap.max(1) {
            list.pop_front();
        }
    }

    pub(crate) fn schedule(&mut self, key: &str, member: &str, at: i64) {
        let (order, index) = self.schedules.entry(key.to_owned()).or_default();
        if let Some(old) = index.insert(member.to_owned(), at) {
            order.remove(&(old, member.to_owned()));
        }
        order.insert((at, member.to_owned()));
    }

    pub(crate) fn unschedule(&mut self, key: &str, member: &str) {
        if let Some((order, index)) = self.schedules.get_mut(key)
            && let Some(old) = index.remove(member)
        {
            order.remove(&(old, member.to_owned()));
        }
    }
}

impl MemoryBackend {
    pub(crate) fn set_add(&self, key: &str, member: &str) -> bool {
        self.lock().set_add(key, member)
    }

    pub(crate) fn set_remove(&self, key: &str, member: &str) -> bool {
        self.lock().set_remove(key, member)
    }

    pub(crate) fn set_contains(&self, key: &str, member: &str) -> bool {
        self.lock()
            .sets
            .get(key)
            .is_some_and(|s| s.contains(member))
    }

    pub(crate) fn set_len(&self, key: &str) -> u64 {
        self.lock().sets.get(key).map_or(0, |s| s.len() as u64)
    }

    pub(crate) fn set_members(&self, key: &str) -> Vec<String> {
        self.lock()
            .sets
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn list_push(&self, key: &str, value: &[u8], cap: usize) {
        self.lock().list_push(key, value, cap);
    }

    pub(crate) fn list_tail(&self, key: &str, n: usize) -> Vec<Vec<u8>> {
        let state = self.lock();
        let Some(list) = state.lists.get(key) else {
            return Vec::new();
        };
        list.iter()
            .skip(list.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    pub(crate) fn schedule(&self, key: &str, member: &str, at: i64) {
        self.lock().schedule(key, member, at);
    }

    pub(crate) fn unschedule(&self, key: &str, member: &str) {
        self.lock().unschedule(key, member);
    }

    pub(crate) fn due(&self, key: &str, now: i64, limit: usize) -> Vec<String> {
        let state = self.lock();
        state
            .schedules
            .get(key)
            .map(|(order, _)| {
                order
                    .iter()
                    .take_while(|(at, _)| *at <= now)
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn sorted_after(&self, key: &str, after: i64, limit: usize) -> Vec<(String, i64)> {
        let state = self.lock();
        state
            .schedules
            .get(key)
            .map(|(order, _)| {
                order
                    .range((after.saturating_add(1), String::new())..)
                    .take(limit)
                    .map(|(at, m)| (m.clone(), *at))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn sorted_len(&self, key: &str) -> u64 {
        self.lock()
            .schedules
            .get(key)
            .map_or(0, |(_, index)| index.len() as u64)
    }
}
