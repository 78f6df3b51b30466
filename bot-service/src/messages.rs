//! Every text a Telegram user sees, in one place.

use mesh_proto::billing::v1::Plan;

/// `/start`: what the bot is and what premium gives, then the plans.
pub fn welcome(first_name: Option<&str>, plans: Option<&[Plan]>) -> String {
    let greeting = first_name.map_or_else(|| "Welcome!".to_owned(), |n| format!("Welcome, {n}!"));
    format!(
        "{greeting}\n\nA premium subscription gives you access to our private members' chat.\n\n{}\n\nSend /subscribe to join, or /help to see everything I can do.",
        plan_list(plans)
    )
}

/// `/help`: the commands.
pub fn help() -> String {
    [
        "Here is what I can do:",
        "/start - welcome and plans",
        "/plans - the plans on offer",
        "/subscribe - choose a plan and pay",
        "/status - your subscription",
        "/portal - manage billing",
        "/cancel - cancel at the end of the period",
        "/help - this message",
    ]
    .join("\n")
}

/// The plans, or an apology when billing can't be reached.
pub fn plan_list(plans: Option<&[Plan]>) -> String {
    match plans {
        None => "Plans can't be shown right now; please try again in a minute.".to_owned(),
        Some([]) => "No plans are on sale at the moment.".to_owned(),
        Some(plans) => {
            let mut out = String::from("Plans:");
            for p in plans {
                out.push_str(&format!("\n- {}: {}", p.name, p.description));
            }
            out
        }
    }
}

/// Any text the bot does not understand.
pub fn unknown() -> String {
    "Sorry, I didn't understand that. Send /help to see what I can do.".to_owned()
}
