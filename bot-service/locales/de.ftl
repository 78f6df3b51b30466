# Alle Texte des Bots auf Deutsch. IDs und Variablen sind in allen
# Sprachen gleich (ein Test prüft das).

## /start, /help, /plans

greeting = Willkommen, { $name }!
premium-pitch = Ein Premium-Abo gibt dir Zugang zu unseren privaten Mitglieder-Chats.
start-footer = Sende /subscribe, um beizutreten, oder /help, um alles zu sehen, was ich kann.
plans-header = Tarife:
plan-line =
    • { $name }: { $price }
      { $description }
plan-line-no-price =
    • { $name }
      { $description }
plan-button = { $name } · { $price }
plan-price-recurring = { $count ->
    [1] { $amount } pro { $interval ->
        [day] Tag
        [week] Woche
        [year] Jahr
       *[month] Monat
    }
   *[other] { $amount } alle { $count } { $interval ->
        [day] Tage
        [week] Wochen
        [year] Jahre
       *[month] Monate
    }
}
plan-price-from = ab { $amount }
plan-price-once = { $amount }, einmalig
plan-price-days = { $amount } für { $days ->
    [one] { $days } Tag
   *[other] { $days } Tage
}
plan-price-lifetime = { $amount }, Zugang auf Lebenszeit
plan-trial = { $price }, { $days ->
    [one] der erste Tag gratis
   *[other] die ersten { $days } Tage gratis
}
plans-unavailable = Die Tarife können gerade nicht angezeigt werden; bitte versuche es in einer Minute noch einmal.
plans-none = Im Moment sind keine Tarife im Angebot.
help =
    Das kann ich für dich tun:
    /start - Begrüßung und Tarife
    /plans - die angebotenen Tarife
    /subscribe - einen Tarif wählen und bezahlen
    /join - neue Einladungslinks zu deinen Chats
    /status - dein Abo
    /portal - Zahlungen verwalten
    /cancel - zum Ende des Zeitraums kündigen
    /help - diese Nachricht
help-admin =
    Verwaltung:
    /stats - Mitglieder, Umsatz und Konversion
    /user <Nutzer> - Stand und Verlauf eines Mitglieds
    /grant <Nutzer> <Tarif> <Tage> [Grund] - Zugang geben
    /revoke <Nutzer> [grant] [Grund] - Zugang beenden
    /refund <Nutzer> [Zahlung] - eine Zahlung in Telegram Stars erstatten
    /broadcast [Segment] <Text> - einem Segment schreiben (oder auf eine Nachricht antworten, um sie zu kopieren)
    /broadcast_cancel - laufende Sendungen stoppen
unknown = Entschuldige, das habe ich nicht verstanden. Sende /help, um zu sehen, was ich kann.
slow-down = Du sendest Nachrichten zu schnell. Bitte etwas langsamer; ich antworte gleich wieder.
try-later = Bei uns ist etwas schiefgelaufen. Bitte versuche es in einer Minute noch einmal.

## Das Befehlsmenü (jeweils höchstens 256 Zeichen)

cmd-start = Begrüßung und Tarife
cmd-plans = Die angebotenen Tarife
cmd-subscribe = Tarif wählen und bezahlen
cmd-join = Neue Einladungslinks
cmd-status = Dein Abo
cmd-portal = Zahlungen verwalten
cmd-cancel = Zum Ende des Zeitraums kündigen
cmd-help = Was ich kann
cmd-stats = Mitglieder, Umsatz und Konversion
cmd-user = Stand und Verlauf eines Mitglieds
cmd-grant = Einem Nutzer Zugang geben
cmd-revoke = Den Zugang eines Nutzers beenden
cmd-refund = Eine Zahlung in Telegram Stars erstatten
cmd-broadcast = Einem Nutzersegment schreiben
cmd-broadcast-cancel = Laufende Sendungen stoppen

## Bezahlen

choose-plan = Wähle einen Tarif:
pay-prompt = Tippe auf die Schaltfläche, um sicher mit Stripe zu bezahlen. Deine Einladung kommt, sobald die Zahlung durch ist.
pay-button = Mit Karte bezahlen
already-subscribed = Du hast bereits Zugang. Mit /portal verwaltest du dein Abo.
payments-unavailable = Zahlungen sind gerade nicht möglich. Bitte versuche es später noch einmal.
thanks-for-paying = Danke! Deine Zahlung wird bestätigt; deine Einladung in den Premium-Chat kommt gleich hier an.
checkout-canceled = Kein Problem, es wurde nichts berechnet. Sende /subscribe, wann immer du bereit bist.
resume-prompt = Dein Abo endet am { $date }. Setze es fort, um deinen Zugang ohne Unterbrechung zu behalten.
resume-button = Abo fortsetzen
resumed = Dein Abo verlängert sich wieder. Danke, dass du bleibst!

## /status, /portal, /cancel

status-plan = Tarif: { $plan }
status-state = Status: { $state }
state = { $state ->
    [trialing] Testphase
    [past-due] Zahlung überfällig
    [canceled] gekündigt (keine Verlängerung)
    [expired] abgelaufen
    [suspended] ausgesetzt (eine Zahlung wird angefochten)
    [none] keins
   *[active] aktiv
}
status-renews = Verlängert sich am: { $date }
status-until = Zugang bis: { $date }
status-access = Du hast Zugang zu den Premium-Chats.
status-no-access = Du hast gerade keinen Zugang. Sende /subscribe, um beizutreten.
portal-prompt = Hier verwaltest du Zahlungsmethode, Rechnungen und Abo:
portal-button = Zahlungsportal öffnen
no-subscription = Du hast noch kein Abo. Sende /subscribe, um eines abzuschließen.
period-end = dem Ende des Zeitraums
cancel-confirm = Abo kündigen? Du behältst den Zugang bis zum { $date }, danach verlängert es sich nicht.
button-yes-cancel = Ja, kündigen
button-keep = Nein, behalten
canceled = Dein Abo ist gekündigt. Du behältst den Zugang bis zum { $date }.
cancel-aborted = Gut, dein Abo bleibt, wie es ist.
confirmation-expired = Diese Bestätigung ist abgelaufen. Sende /cancel noch einmal.

## Zugang

welcome-premium = { $count ->
    [one] Willkommen bei Premium! Hier ist deine persönliche Einladung. Sie funktioniert einmal und läuft in 24 Stunden ab; mit /join bekommst du jederzeit eine neue.
   *[other] Willkommen bei Premium! Hier sind deine persönlichen Einladungen in { $count } Chats. Jede funktioniert einmal und läuft in 24 Stunden ab; mit /join bekommst du jederzeit neue.
}
welcome-no-chat = Willkommen bei Premium! Dein Abo ist aktiv.
chat-line = • { $name }: { $description }
chat-line-no-description = • { $name }
join-button = { $count ->
    [one] Dem Premium-Chat beitreten
   *[other] Chat { $number } beitreten
}
join-named-button = { $name } beitreten
join-links = { $count ->
    [one] Hier ist eine neue Einladung, nur für dich. Sie funktioniert einmal und läuft in 24 Stunden ab; deine früheren Links funktionieren nicht mehr.
   *[other] Hier sind neue Einladungen in deine { $count } Chats, nur für dich. Jede funktioniert einmal und läuft in 24 Stunden ab; deine früheren Links funktionieren nicht mehr.
}
join-link-button = Meinen Einladungslink holen
join-no-access = Du hast noch keinen Zugang. Wähle einen Tarif, um beizutreten:
payment-failed = Deine letzte Zahlung ist nicht durchgegangen. Bitte aktualisiere deine Zahlungsmethode, um deinen Zugang zu behalten:
payment-recovered = Deine Zahlung ist durchgegangen. Danke, dein Zugang bleibt bestehen.
duplicate-refunded = Du hattest schon ein Abo, deshalb haben wir das zweite, das du gerade bezahlt hast, storniert und die Zahlung erstattet. Dein erstes Abo läuft weiter wie bisher.
action-required = Deine Bank bittet dich, die Zahlung zu bestätigen. Bitte bestätige sie hier, um deinen Zugang zu behalten:
action-required-button = Zahlung bestätigen
ending-soon = Hinweis: Dein Zugang endet am { $date }. Sende /subscribe, um weiterzumachen.
renewal-soon = Dein Abo verlängert sich am { $date } für { $amount }. Wenn du bleiben willst, musst du nichts tun; sonst /cancel.
trial-ending = { $renews ->
    [yes] Deine kostenlose Testphase endet am { $date }, dann beginnt dein bezahltes Abo. Sende /cancel, wenn du nicht weitermachen willst.
   *[no] Deine kostenlose Testphase endet am { $date }. Sende /subscribe, um deinen Zugang zu behalten.
}
win-back = Wir vermissen dich! Dein Zugang ist vor einer Weile abgelaufen. Wähle einen Tarif, um zurückzukommen, wann immer du willst:
access-ended = { $reason ->
    [revoked] Dein Premium-Zugang ist beendet, weil ein Administrator ihn widerrufen hat. Sende /subscribe, um jederzeit zurückzukommen.
    [payment-failed] Dein Premium-Zugang ist beendet, weil die Zahlung nicht eingezogen werden konnte. Sende /subscribe, um jederzeit zurückzukommen.
    [canceled] Dein Premium-Zugang ist beendet, weil dein Abo gekündigt wurde. Sende /subscribe, um jederzeit zurückzukommen.
    [refunded] Dein Premium-Zugang ist beendet, weil deine Zahlung erstattet wurde. Sende /subscribe, um jederzeit zurückzukommen.
    [disputed] Dein Premium-Zugang ist ausgesetzt, solange ein Streitfall zu deiner Zahlung offen ist.
    [plan-changed] Dein neuer Tarif umfasst einige Chats nicht, daher wurdest du aus ihnen entfernt.
   *[expired] Dein Premium-Zugang ist beendet, weil dein Abo abgelaufen ist. Sende /subscribe, um jederzeit zurückzukommen.
}
join-declined = Um diesem Chat beizutreten, brauchst du ein aktives Abo. Sende /subscribe, um eines abzuschließen.
removed-no-access = Du wurdest aus einem Premium-Chat entfernt, weil du kein aktives Abo hast. Sende /subscribe, um beizutreten.

## Verwaltung

stats =
    Nutzer: { $users } ({ $blocked } haben den Bot blockiert)
    Mit Zugang: { $active }
stats-states = Aktiv { $active }, Testphase { $trialing }, überfällig { $pastdue }, gekündigt { $canceled }, abgelaufen { $expired }, ausgesetzt { $suspended }
stats-plan = { "  " }{ $plan }: { $count }
stats-mrr = Monatlich wiederkehrender Umsatz: { $amount }
stats-mrr-none = Monatlich wiederkehrender Umsatz: noch keiner
stats-30d = Letzte 30 Tage: { $joined } dazu, { $left } weg; Bezahlung in { $completed } von { $started } abgeschlossen ({ $conversion } %)
user-info =
    Nutzer { $user }: { $state }
    Tarif: { $plan }, bis { $until }
user-lifetime = lebenslang
user-audit-line = { $date }: { $from } → { $to } ({ $actor }: { $reason })
user-no-audit = Noch kein Verlauf.
usage = Verwendung: { $usage }
granted = Erledigt: { $user } hat { $plan } bis zum { $date }.
revoked = Erledigt: { $user } hat keinen Zugang mehr.
segment = { $segment ->
    [active] die Mitglieder mit Zugang
    [trialing] die Nutzer in der Testphase
    [past-due] die Nutzer mit überfälliger Zahlung
    [expired] die ehemaligen Mitglieder
    [never-paid] die Nutzer, die nie bezahlt haben
   *[all] alle
}
broadcast-confirm-all = Oben steht, was { $count } Nutzer bekommen. Senden?
broadcast-confirm = Oben steht, was { $segment } bekommen. Senden?
broadcast-send-button = Senden
broadcast-discard-button = Verwerfen
broadcast-discarded = Sendung verworfen.
broadcast-expired = Dieser Entwurf ist abgelaufen. Sende /broadcast noch einmal.
broadcast-started = Sendung gestartet. Ich melde den Fortschritt hier.
broadcast-progress = Sendung: { $done }/{ $total } verarbeitet, { $sent } zugestellt.
broadcast-stopped = Sendung abgebrochen; es wird nichts mehr verschickt.
broadcast-canceled = { $count ->
    [0] Es läuft keine Sendung.
    [one] Breche 1 Sendung ab.
   *[other] Breche { $count } Sendungen ab.
}
admin-alert = Achtung, Nutzer { $user }: { $detail }
admin-missing-rights = Dem Bot fehlen Rechte im Chat { $chat }: { $rights }. Mach ihn dort zum Administrator mit „Nutzer einladen“ und „Nutzer sperren“, sonst bekommen Nutzer der Pläne mit diesem Chat keinen Link und Fremde können nicht entfernt werden.

## Telegram Stars

plan-price-or = { $card } oder { $stars }
plan-price-stars = ⭐ { $stars } Stars pro 30 Tage
plan-price-stars-days = ⭐ { $stars } Stars für { $days ->
    [one] { $days } Tag
   *[other] { $days } Tage
}
plan-price-stars-lifetime = ⭐ { $stars } Stars, lebenslanger Zugang
stars-button = ⭐ { $stars } Stars bezahlen
pay-prompt-stars = Bezahle per Karte über Stripe oder direkt hier mit Telegram Stars. Deine Einladung kommt, sobald die Zahlung durch ist.
pay-prompt-stars-only = Tippe auf den Knopf, um direkt hier mit Telegram Stars zu bezahlen. Deine Einladung kommt, sobald die Zahlung durch ist.
stars-refused-not-ours = Diese Rechnung gilt nicht mehr. Sende /subscribe für eine neue.
stars-refused-plan-gone = Dieser Tarif wird nicht mehr für Stars verkauft. Sende /plans für das aktuelle Angebot.
stars-refused-price = Der Preis hat sich geändert. Sende /subscribe für eine neue Rechnung.
stars-refused-entitled = Du hast bereits Zugang (oder ein Abo). Sende /status, um zu sehen, bis wann.
stars-refused-unavailable = Zahlungen können gerade nicht geprüft werden. Bitte versuche es in einer Minute noch einmal.
payment-unplaced = Deine Zahlung ist angekommen, passt aber zu keinem unserer Angebote. Ein Admin weiß Bescheid und kümmert sich darum.
status-rail = Bezahlt mit: { $rail ->
    [stars] Telegram Stars
    [grant] einer Freischaltung durch einen Admin
   *[stripe] Karte (Stripe)
}
portal-stars = Du bezahlst mit Telegram Stars: Das Abo verwaltest du in den Telegram-Einstellungen (Einstellungen › Meine Stars). Du kannst hier auch /cancel senden, um die Verlängerung zu beenden.
refund-done = { $stars } Stars an Nutzer { $user } erstattet (Zahlung { $charge }).
refund-none = Nutzer { $user } hat keine Zahlung in Telegram Stars, die erstattet werden kann.
refund-failed = Telegram hat die Erstattung abgelehnt: { $reason }
stats-stars = Telegram Stars: ⭐ { $monthly } pro Monat aus Abos; { $paid } in 30 Tagen bezahlt
