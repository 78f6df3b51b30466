//! What goes out: Bot API calls as data ([`action`]), kept in the durable,
//! throttled outbox ([`outbox`]) and made through teloxide
//! ([`telegram`]); the user's invite links remembered ([`invites`]).

pub mod action;
pub mod invites;
pub mod outbox;
pub mod pacing;
pub mod telegram;
