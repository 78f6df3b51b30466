//! Fuzzes what reads untrusted Telegram webhook bodies: the gateway's shape
//! check (object, integer update_id, nesting limit) and bot-service's chat
//! locator. Neither may panic, and when both read a body they agree on its
//! update_id (a body only the gateway accepts is refused by bot-service with
//! INVALID_ARGUMENT, which the gateway answers with 400).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let gateway = gateway::routes::telegram::parse_update_id(data);
    let bot = bot_service::intake::partition::locate(data);
    if let (Ok(id), Ok((located, partition))) = (gateway, bot) {
        assert_eq!(located, id);
        assert!(!partition.is_empty());
    }
});
