# Every text the bot sends, in English. Ids and variables are the same in
# every language (a test checks it); MESSAGES_DIR can override any message.

## /start, /help, /plans

greeting = Welcome, { $name }!
premium-pitch = A premium subscription gives you access to our private members' chat.
start-footer = Send /subscribe to join, or /help to see everything I can do.
plans-header = Plans:
plan-line = - { $name }: { $description }
plans-unavailable = Plans can't be shown right now; please try again in a minute.
plans-none = No plans are on sale at the moment.
help =
    Here is what I can do:
    /start - welcome and plans
    /plans - the plans on offer
    /subscribe - choose a plan and pay
    /status - your subscription
    /portal - manage billing
    /cancel - cancel at the end of the period
    /help - this message
help-admin =
    Admin:
    /stats - users and subscribers
    /grant <user> <plan> <days> [reason] - give access
    /revoke <user> [reason] - end access
    /broadcast <text> - message every user
unknown = Sorry, I didn't understand that. Send /help to see what I can do.
slow-down = You're sending messages too fast. Please slow down; I'll answer again in a moment.
try-later = Something went wrong on our side. Please try again in a minute.

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
status-access = You have access to the premium chat.
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
    [one] Welcome to premium! Here is your personal invite to the members' chat. It works once and expires in 24 hours.
   *[other] Welcome to premium! Here are your personal invites to the { $count } members' chats. Each works once and expires in 24 hours.
}
welcome-no-chat = Welcome to premium! Your subscription is active.
join-button = { $count ->
    [one] Join the premium chat
   *[other] Join chat { $number }
}
payment-failed = Your last payment didn't go through. Please update your payment method to keep your access:
payment-recovered = Your payment went through. Thanks, your access continues.
action-required = Your bank asks you to confirm your payment. Please confirm it here to keep your access:
action-required-button = Confirm payment
ending-soon = Heads up: your access ends on { $date }. Send /subscribe to continue.
trial-ending = { $renews ->
    [yes] Your free trial ends on { $date }, and your paid subscription starts then. Send /cancel if you don't want to continue.
   *[no] Your free trial ends on { $date }. Send /subscribe to keep your access.
}
access-ended = { $reason ->
    [revoked] Your premium access has ended because it was revoked by an administrator. Send /subscribe to come back any time.
    [payment-failed] Your premium access has ended because the payment could not be collected. Send /subscribe to come back any time.
    [canceled] Your premium access has ended because your subscription was cancelled. Send /subscribe to come back any time.
    [refunded] Your premium access has ended because your payment was refunded. Send /subscribe to come back any time.
    [disputed] Your premium access is suspended while a dispute about your payment is open.
    [plan-changed] Your new plan doesn't include some chats, so you were removed from them.
   *[expired] Your premium access has ended because your subscription has ended. Send /subscribe to come back any time.
}
join-declined = To join the premium chat you need an active subscription. Send /subscribe to get one.
removed-no-access = You were removed from the premium chat because you don't have an active subscription. Send /subscribe to join.

## Admin

stats =
    Users: { $users } ({ $blocked } blocked the bot)
    Active subscribers: { $active }
stats-plan = { "  " }{ $plan }: { $count }
stats-churned = Churned this month: { $churned }
usage = Usage: { $usage }
granted = Done: { $user } has { $plan } until { $date }.
revoked = Done: { $user } no longer has access.
broadcast-started = Broadcast queued for { $count } users. I'll report progress here.
broadcast-progress = Broadcast: { $done }/{ $total } processed, { $sent } delivered.
admin-alert = Attention, user { $user }: { $detail }
