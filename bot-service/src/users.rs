//! Who the bot knows: every user who wrote to it, who blocked it, and the
//! language each speaks. Kept in the shared store, so every replica (and
//! broadcasts after a restart) sees the same registry.

use mesh_state::{Store, StoreError};

const ALL: &str = "bot:users";
const BLOCKED: &str = "bot:blocked";

/// The user registry.
#[derive(Clone)]
pub struct Users {
    store: Store,
}

impl Users {
    /// A registry in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records that `user` wrote to the bot (which also undoes a block: a
    /// user who writes again has unblocked the bot), with their language.
    pub async fn seen(&self, user: i64, language: Option<&str>) -> Result<(), StoreError> {
        let id = user.to_string();
        self.store.set_add(ALL, &id).await?;
        self.store.set_remove(BLOCKED, &id).await?;
        if let Some(lang) = language {
            let key = format!("bot:lang:{user}");
            if self.store.get(&key).await?.as_deref() != Some(lang.as_bytes()) {
                self.store.set(&key, lang.as_bytes(), None).await?;
            }
        }
        Ok(())
    }

    /// Marks `user` as having blocked the bot: nothing more is sent to them.
    pub async fn blocked(&self, user: i64) -> Result<(), StoreError> {
        self.store
            .set_add(BLOCKED, &user.to_string())
            .await
            .map(drop)
    }

    /// Whether `user` blocked the bot.
    pub async fn is_blocked(&self, user: i64) -> Result<bool, StoreError> {
        Ok(self
            .store
            .set_members(BLOCKED)
            .await?
            .contains(&user.to_string()))
    }

    /// The user's `language_code`, as last seen.
    pub async fn language(&self, user: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .store
            .get(&format!("bot:lang:{user}"))
            .await?
            .and_then(|v| String::from_utf8(v).ok()))
    }

    /// Everyone who wrote to the bot and has not blocked it.
    pub async fn reachable(&self) -> Result<Vec<i64>, StoreError> {
        let blocked = self.store.set_members(BLOCKED).await?;
        let mut users: Vec<i64> = self
            .store
            .set_members(ALL)
            .await?
            .into_iter()
            .filter(|u| !blocked.contains(u))
            .filter_map(|u| u.parse().ok())
            .collect();
        users.sort_unstable();
        Ok(users)
    }

    /// How many users the bot knows, and how many blocked it.
    pub async fn counts(&self) -> Result<(usize, usize), StoreError> {
        Ok((
            self.store.set_members(ALL).await?.len(),
            self.store.set_members(BLOCKED).await?.len(),
        ))
    }
}
