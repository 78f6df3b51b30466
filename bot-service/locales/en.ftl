# Every text the bot sends, in English. Ids and variables are the same in
# every language (a test checks it); MESSAGES_DIR can override any message.

## /start, /help, /plans

greeting = Welcome, { $name }!
premium-pitch = A premium subscription gives you access to our private members' chats.
start-footer = Send /subscribe to join, or /help to see everything I can do.
plans-header = Plans:
plan-line =
    • { $name }: { $price }
      { $description }
plan-line-no-price =
    • { $name }
      { $description }
plan-button = { $name } · { $price }
plan-price-recurring = { $count ->
    [1] { $amount } per { $interval ->
        [day] day
        [week] week
        [year] year
       *[month] month
    }
   *[other] { $amount } every { $count } { $interval ->
        [day] days
        [week] weeks
        [year] years
       *[month] months
    }
}
plan-price-from = from { $amount }
plan-price-once = { $amount }, paid once
plan-price-days = { $amount } for { $days ->
    [one] { $days } day
   *[other] { $days } days
}
plan-price-lifetime = { $amount }, lifetime access
plan-trial = { $price }, first { $days ->
    [one] day
   *[other] { $days } days
} free
plans-unavailable = Plans can't be shown right now; please try again in a minute.
plans-none = No plans are on sale at the moment.
help =
    Here is what I can do:
    /start - welcome and plans
    /plans - the plans on offer
    /subscribe - choose a plan and pay
    /join - fresh invite links to your chats
    /status - your subscription
    /portal - manage billing
    /cancel - cancel at the end of the period
    /help - this message
help-admin =
    Admin:
    /stats - members, revenue and conversion
    /user <user> - a member's state and history
    /grant <user> <plan> <days> [reason] - give access
    /revoke <user> [grant] [reason] - end access
    /refund <user> [charge] - refund a Telegram Stars payment
    /broadcast [segment] <text> - message a segment (or reply to a message to copy it)
    /broadcast_cancel - stop running broadcasts
unknown = Sorry, I didn't understand that. Send /help to see what I can do.
slow-down = You're sending messages too fast. Please slow down; I'll answer again in a moment.
try-later = Something went wrong on our side. Please try again in a minute.

## The command menu (at most 256 characters each)

cmd-start = Welcome and plans
cmd-plans = The plans on offer
cmd-subscribe = Choose a plan and pay
cmd-join = Fresh invite links to your chats
cmd-status = Your subscription
cmd-portal = Manage billing
cmd-cancel = Cancel at the end of the period
cmd-help = What I can do
cmd-stats = Members, revenue and conversion
cmd-user = A member's state and history
cmd-grant = Give a user access
cmd-revoke = End a user's access
cmd-refund = Refund a Telegram Stars payment
cmd-broadcast = Message a segment of users
cmd-broadcast-cancel = Stop running broadcasts

## Paying

choose-plan = Choose a plan:
pay-prompt = Tap the button to pay securely with Stripe. You'll get your invite as soon as the payment goes through.
pay-button = Pay with card
already-subscribed = You already have access. Use /portal to manage your subscription.
payments-unavailable = Payments aren't available right now. Please try again later.
thanks-for-paying = Thank you! Your payment is being confirmed; your invite to the premium chat will arrive here in a moment.
checkout-canceled = No problem, nothing was charged. Send /subscribe whenever you're ready.
resume-prompt = Your subscription is set to end on { $date }. Resume it to keep your access without a break.
resume-button = Resume subscription
resumed = Your subscription will renew again. Thanks for staying!

## /status, /portal, /cancel

status-plan = Plan: { $plan }
status-state = State: { $state }
state = { $state ->
    [trialing] trial
    [past-due] payment overdue
    [canceled] cancelled (not renewing)
    [expired] expired
    [suspended] suspended (a payment is disputed)
    [none] none
   *[active] active
}
status-renews = Renews on: { $date }
status-until = Access until: { $date }
status-access = You have access to the premium chats.
status-no-access = You don't have access right now. /subscribe to join.
portal-prompt = Manage your payment method, invoices and subscription here:
portal-button = Open billing portal
no-subscription = You don't have a subscription yet. Send /subscribe to start one.
period-end = the end of the period
cancel-confirm = Cancel your subscription? You keep access until { $date }, and it won't renew.
button-yes-cancel = Yes, cancel
button-keep = No, keep it
canceled = Your subscription is cancelled. You keep access until { $date }.
cancel-aborted = Good, your subscription stays as it is.
confirmation-expired = That confirmation has expired. Send /cancel again.

## Access

welcome-premium = { $count ->
    [one] Welcome to premium! Here is your personal invite. It works once and expires in 24 hours; send /join any time for a fresh one.
   *[other] Welcome to premium! Here are your personal invites to { $count } chats. Each works once and expires in 24 hours; send /join any time for fresh ones.
}
welcome-no-chat = Welcome to premium! Your subscription is active.
chat-line = • { $name }: { $description }
chat-line-no-description = • { $name }
join-button = { $count ->
    [one] Join the premium chat
   *[other] Join chat { $number }
}
join-named-button = Join { $name }
join-links = { $count ->
    [one] Here is a fresh invite, just for you. It works once and expires in 24 hours; your earlier links no longer work.
   *[other] Here are fresh invites to your { $count } chats, just for you. Each works once and expires in 24 hours; your earlier links no longer work.
}
join-link-button = Get my invite link
join-no-access = You don't have access yet. Choose a plan to join:
payment-failed = Your last payment didn't go through. Please update your payment method to keep your access:
payment-recovered = Your payment went through. Thanks, your access continues.
duplicate-refunded = You were already subscribed, so the second subscription you just paid for has been cancelled and its payment refunded. Your first subscription goes on as before.
action-required = Your bank asks you to confirm your payment. Please confirm it here to keep your access:
action-required-button = Confirm payment
ending-soon = Heads up: your access ends on { $date }. Send /subscribe to continue.
renewal-soon = Your subscription renews on { $date } for { $amount }. Nothing to do if you want to stay; /cancel if you don't.
trial-ending = { $renews ->
    [yes] Your free trial ends on { $date }, and your paid subscription starts then. Send /cancel if you don't want to continue.
   *[no] Your free trial ends on { $date }. Send /subscribe to keep your access.
}
win-back = We miss you! Your access ended a while ago. Pick a plan to come back whenever you like:
access-ended = { $reason ->
    [revoked] Your premium access has ended because it was revoked by an administrator. Send /subscribe to come back any time.
    [payment-failed] Your premium access has ended because the payment could not be collected. Send /subscribe to come back any time.
    [canceled] Your premium access has ended because your subscription was cancelled. Send /subscribe to come back any time.
    [refunded] Your premium access has ended because your payment was refunded. Send /subscribe to come back any time.
    [disputed] Your premium access is suspended while a dispute about your payment is open.
    [plan-changed] Your new plan doesn't include some chats, so you were removed from them.
   *[expired] Your premium access has ended because your subscription has ended. Send /subscribe to come back any time.
}
join-declined = To join this chat you need an active subscription. Send /subscribe to get one.
removed-no-access = You were removed from a premium chat because you don't have an active subscription. Send /subscribe to join.

## Admin

stats =
    Users: { $users } ({ $blocked } blocked the bot)
    With access: { $active }
stats-states = Active { $active }, trial { $trialing }, overdue { $pastdue }, cancelled { $canceled }, expired { $expired }, suspended { $suspended }
stats-plan = { "  " }{ $plan }: { $count }
stats-mrr = Monthly recurring revenue: { $amount }
stats-mrr-none = Monthly recurring revenue: none yet
stats-30d = Last 30 days: { $joined } joined, { $left } left; checkout { $completed } of { $started } completed ({ $conversion }%)
user-info =
    User { $user }: { $state }
    Plan: { $plan }, until { $until }
user-lifetime = lifetime
user-audit-line = { $date }: { $from } → { $to } ({ $actor }: { $reason })
user-no-audit = No history yet.
usage = Usage: { $usage }
granted = Done: { $user } has { $plan } until { $date }.
revoked = Done: { $user } no longer has access.
segment = { $segment ->
    [active] members with access
    [trialing] users in a trial
    [past-due] users with an overdue payment
    [expired] former members
    [never-paid] users who never paid
   *[all] everyone
}
broadcast-confirm-all = Above is what { $count } users will get. Send it?
broadcast-confirm = Above is what { $segment } will get. Send it?
broadcast-send-button = Send
broadcast-discard-button = Discard
broadcast-discarded = Broadcast discarded.
broadcast-expired = That broadcast draft has expired. Send /broadcast again.
broadcast-started = Broadcast started. I'll report progress here.
broadcast-progress = Broadcast: { $done }/{ $total } processed, { $sent } delivered.
broadcast-stopped = Broadcast cancelled; nothing more will be sent.
broadcast-canceled = { $count ->
    [0] No broadcast is running.
    [one] Cancelling 1 broadcast.
   *[other] Cancelling { $count } broadcasts.
}
admin-alert = Attention, user { $user }: { $detail }
admin-missing-rights = The bot lacks rights in chat { $chat }: { $rights }. Make it an administrator there with "Invite users" and "Ban users", or users of the plans that open this chat get no link to it and strangers can't be removed.

## Telegram Stars

plan-price-or = { $card } or { $stars }
plan-price-stars = ⭐ { $stars } Stars per 30 days
plan-price-stars-days = ⭐ { $stars } Stars for { $days ->
    [one] { $days } day
   *[other] { $days } days
}
plan-price-stars-lifetime = ⭐ { $stars } Stars, lifetime access
stars-button = ⭐ Pay { $stars } Stars
pay-prompt-stars = Tap a button to pay securely: by card with Stripe, or with Telegram Stars right here. You'll get your invite as soon as the payment goes through.
pay-prompt-stars-only = Tap the button to pay with Telegram Stars right here. You'll get your invite as soon as the payment goes through.
stars-refused-not-ours = This invoice is no longer valid. Send /subscribe for a fresh one.
stars-refused-plan-gone = This plan is no longer sold for Stars. Send /plans to see what is.
stars-refused-price = The price has changed. Send /subscribe for a fresh invoice.
stars-refused-entitled = You already have access (or a subscription). Send /status to see until when.
stars-refused-unavailable = Payments can't be checked right now. Please try again in a minute.
payment-unplaced = Your payment arrived, but it doesn't match an offer of ours. An admin has been told and will sort it out.
status-rail = Paid with: { $rail ->
    [stars] Telegram Stars
    [grant] an admin's grant
   *[stripe] card (Stripe)
}
portal-stars = You pay with Telegram Stars: Telegram's settings manage the subscription (Settings › My Stars). You can also send /cancel here to stop the renewal.
refund-done = Refunded { $stars } Stars to user { $user } (charge { $charge }).
refund-none = User { $user } has no Telegram Stars payment to refund.
refund-failed = Telegram refused the refund: { $reason }
stats-stars = Telegram Stars: ⭐ { $monthly } a month from subscriptions; { $paid } paid in 30 days
