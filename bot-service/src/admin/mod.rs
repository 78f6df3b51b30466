//! What runs for admins and operators beside the commands: broadcasts as
//! jobs ([`broadcast`]), dead letters ([`dead_letters`]), the bot's own
//! rights in its chats ([`rights`]), the command menus ([`menus`]).

pub mod broadcast;
pub mod dead_letters;
pub mod menus;
pub mod rights;
