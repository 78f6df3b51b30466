//! An admin's broadcast: `/broadcast [segment] <text>`, or `/broadcast
//! [segment]` as a reply to a message (copied as it is: a photo, a
//! document, formatting). The admin first gets a preview (exactly what
//! recipients will get) with Send and Discard buttons; the draft waits an
//! hour in the shared store. Send starts the job; `/broadcast_cancel` stops
//! every broadcast still running.

use std::time::Duration;

use mesh_proto::billing::v1::Segment;
use serde::{Deserialize, Serialize};

use super::{Ctx, HandleError, Handler};
use crate::admin::broadcast::{self, Content, Job};
use crate::callback::Callback;
use crate::delivery::action::{Action, Button, message};
use crate::effects::Effects;
use crate::keys;

/// How long a draft waits for its confirmation.
const DRAFT_LIFE: Duration = Duration::from_secs(3600);

/// A drafted broadcast.
#[derive(Serialize, Deserialize)]
struct Draft {
    job: Job,
}

/// A segment as the admin names it, and its word in the catalogue.
fn segment(word: &str) -> Option<(Segment, &'static str)> {
    Some(match word.to_ascii_lowercase().as_str() {
        "all" => (Segment::All, "all"),
        "active" => (Segment::Active, "active"),
        "trialing" => (Segment::Trialing, "trialing"),
        "past_due" => (Segment::PastDue, "past-due"),
        "expired" => (Segment::Expired, "expired"),
        "never_paid" => (Segment::NeverPaid, "never-paid"),
        _ => return None,
    })
}

/// The catalogue's word for `segment`.
fn segment_word(segment: Segment) -> &'static str {
    match segment {
        Segment::Active => "active",
        Segment::Trialing => "trialing",
        Segment::PastDue => "past-due",
        Segment::Expired => "expired",
        Segment::NeverPaid => "never-paid",
        Segment::All | Segment::Unspecified => "all",
    }
}

const USAGE: &str = "/broadcast [all|active|trialing|past_due|expired|never_paid] <text>, or as a reply to a message";

impl Handler {
    /// Drafts a broadcast and shows the admin its preview.
    pub(super) async fn broadcast(
        &self,
        ctx: &Ctx,
        args: &str,
        reply: Option<(i64, i32)>,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        let (chosen, text) = match segment(first) {
            Some(s) => (s.0, rest.trim()),
            None => (Segment::All, args),
        };
        let content = match (reply, text.is_empty()) {
            (Some((from_chat, message_id)), true) => Content::Copy {
                from_chat,
                message_id,
            },
            (None, false) => Content::Text(text.to_owned()),
            _ => {
                self.usage(ctx, USAGE, out);
                return Ok(());
            }
        };
        let job = Job {
            id: format!("u{}", ctx.update_id),
            admin_chat: ctx.chat,
            lang: ctx.lang,
            content,
            segment: chosen as i32,
        };
        out.send(job.content.to(ctx.chat));
        let word = self.t(
            ctx.lang,
            "segment",
            &[("segment", segment_word(chosen).into())],
        );
        let text = if chosen == Segment::All {
            let users = self.store.sorted_len(keys::USERS).await?;
            let blocked = self.store.set_len(keys::BLOCKED).await?;
            let count = i64::try_from(users.saturating_sub(blocked)).unwrap_or(i64::MAX);
            self.t(
                ctx.lang,
                "broadcast-confirm-all",
                &[("count", count.into())],
            )
        } else {
            self.t(
                ctx.lang,
                "broadcast-confirm",
                &[("segment", (&word).into())],
            )
        };
        out.send(Action::SendMessage {
            chat_id: ctx.chat,
            text,
            buttons: vec![vec![
                Button::Callback {
                    text: self.t(ctx.lang, "broadcast-send-button", &[]),
                    data: Callback::BroadcastSend.data(),
                },
                Button::Callback {
                    text: self.t(ctx.lang, "broadcast-discard-button", &[]),
                    data: Callback::BroadcastDiscard.data(),
                },
            ]],
        });
        let draft = serde_json::to_vec(&Draft { job })
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
        out.writes
            .set(&keys::broadcast_draft(ctx.user), &draft, Some(DRAFT_LIFE));
        Ok(())
    }

    /// The admin tapped Send: the drafted job starts (once: the draft goes
    /// in the same commit).
    pub(super) async fn broadcast_send(
        &self,
        ctx: &Ctx,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let key = keys::broadcast_draft(ctx.user);
        let draft = match self.store.get(&key).await? {
            Some(raw) if self.is_admin(ctx.user) => serde_json::from_slice::<Draft>(&raw).ok(),
            _ => None,
        };
        let Some(Draft { job }) = draft else {
            out.send(self.say(ctx.user, ctx.lang, "broadcast-expired"));
            return Ok(());
        };
        out.writes.delete(&key);
        out.send(self.say(job.admin_chat, ctx.lang, "broadcast-started"));
        job.start(&mut out.writes, &self.config.queue)
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
        Ok(())
    }

    /// `/broadcast_cancel`: every running broadcast stops queueing, and the
    /// outbox skips what they had queued.
    pub(super) async fn broadcast_cancel(
        &self,
        ctx: &Ctx,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let mut stopped = 0i64;
        for job in self.store.set_members(keys::BROADCASTS).await? {
            if !broadcast::canceled(&self.store, &job).await? {
                broadcast::cancel(&mut out.writes, &job);
                stopped += 1;
            }
        }
        out.send(message(
            ctx.chat,
            self.t(ctx.lang, "broadcast-canceled", &[("count", stopped.into())]),
        ));
        Ok(())
    }
}
