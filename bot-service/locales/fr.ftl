# Tous les textes du bot, en français. Les identifiants et les variables
# sont les mêmes dans toutes les langues (un test le vérifie).

## /start, /help, /plans

greeting = Bienvenue, { $name } !
premium-pitch = Un abonnement premium vous donne accès à nos discussions privées réservées aux membres.
start-footer = Envoyez /subscribe pour nous rejoindre, ou /help pour voir tout ce que je sais faire.
plans-header = Formules :
plan-line =
    • { $name } : { $price }
      { $description }
plan-line-no-price =
    • { $name }
      { $description }
plan-button = { $name } · { $price }
plan-price-recurring = { $count ->
    [1] { $amount } par { $interval ->
        [day] jour
        [week] semaine
        [year] an
       *[month] mois
    }
   *[other] { $amount } tous les { $count } { $interval ->
        [day] jours
        [week] semaines
        [year] ans
       *[month] mois
    }
}
plan-price-from = à partir de { $amount }
plan-price-once = { $amount }, paiement unique
plan-price-days = { $amount } pour { $days ->
    [one] { $days } jour
   *[other] { $days } jours
}
plan-price-lifetime = { $amount }, accès à vie
plan-trial = { $price }, { $days ->
    [one] le premier jour offert
   *[other] les { $days } premiers jours offerts
}
plans-unavailable = Impossible d'afficher les formules pour le moment ; réessayez dans une minute.
plans-none = Aucune formule n'est en vente pour le moment.
help =
    Voici ce que je sais faire :
    /start - accueil et formules
    /plans - les formules proposées
    /subscribe - choisir une formule et payer
    /join - de nouveaux liens d'invitation vers vos discussions
    /status - votre abonnement
    /portal - gérer la facturation
    /cancel - résilier à la fin de la période
    /help - ce message
help-admin =
    Administration :
    /stats - membres, revenus et conversion
    /user <utilisateur> - état et historique d'un membre
    /grant <utilisateur> <formule> <jours> [motif] - donner l'accès
    /revoke <utilisateur> [grant] [motif] - retirer l'accès
    /refund <utilisateur> [paiement] - rembourser un paiement en Telegram Stars
    /broadcast [segment] <texte> - écrire à un segment (ou répondez à un message pour le copier)
    /broadcast_cancel - arrêter les envois en cours
unknown = Désolé, je n'ai pas compris. Envoyez /help pour voir ce que je sais faire.
slow-down = Vous envoyez des messages trop vite. Ralentissez un peu ; je vous répondrai dans un instant.
try-later = Un problème est survenu de notre côté. Réessayez dans une minute.

## Le menu des commandes (256 caractères au plus chacune)

cmd-start = Accueil et formules
cmd-plans = Les formules proposées
cmd-subscribe = Choisir une formule et payer
cmd-join = De nouveaux liens d'invitation
cmd-status = Votre abonnement
cmd-portal = Gérer la facturation
cmd-cancel = Résilier à la fin de la période
cmd-help = Ce que je sais faire
cmd-stats = Membres, revenus et conversion
cmd-user = État et historique d'un membre
cmd-grant = Donner l'accès à un utilisateur
cmd-revoke = Retirer l'accès à un utilisateur
cmd-refund = Rembourser un paiement en Telegram Stars
cmd-broadcast = Écrire à un segment d'utilisateurs
cmd-broadcast-cancel = Arrêter les envois en cours

## Paiement

choose-plan = Choisissez une formule :
pay-prompt = Touchez le bouton pour payer en toute sécurité avec Stripe. Vous recevrez votre invitation dès que le paiement sera passé.
pay-button = Payer par carte
already-subscribed = Vous avez déjà accès. Utilisez /portal pour gérer votre abonnement.
payments-unavailable = Les paiements ne sont pas disponibles pour le moment. Réessayez plus tard.
thanks-for-paying = Merci ! Votre paiement est en cours de confirmation ; votre invitation à la discussion premium arrivera ici dans un instant.
checkout-canceled = Pas de souci, rien n'a été débité. Envoyez /subscribe quand vous voulez.
resume-prompt = Votre abonnement prendra fin le { $date }. Réactivez-le pour garder votre accès sans interruption.
resume-button = Réactiver l'abonnement
resumed = Votre abonnement sera de nouveau renouvelé. Merci de rester !

## /status, /portal, /cancel

status-plan = Formule : { $plan }
status-state = État : { $state }
state = { $state ->
    [trialing] essai
    [past-due] paiement en retard
    [canceled] résilié (sans renouvellement)
    [expired] expiré
    [suspended] suspendu (un paiement est contesté)
    [none] aucun
   *[active] actif
}
status-renews = Renouvellement le : { $date }
status-until = Accès jusqu'au : { $date }
status-access = Vous avez accès aux discussions premium.
status-no-access = Vous n'avez pas accès pour le moment. Envoyez /subscribe pour nous rejoindre.
portal-prompt = Gérez ici votre moyen de paiement, vos factures et votre abonnement :
portal-button = Ouvrir le portail de facturation
no-subscription = Vous n'avez pas encore d'abonnement. Envoyez /subscribe pour en souscrire un.
period-end = la fin de la période
cancel-confirm = Résilier votre abonnement ? Vous gardez l'accès jusqu'au { $date }, et il ne sera pas renouvelé.
button-yes-cancel = Oui, résilier
button-keep = Non, le garder
canceled = Votre abonnement est résilié. Vous gardez l'accès jusqu'au { $date }.
cancel-aborted = Très bien, votre abonnement reste tel quel.
confirmation-expired = Cette confirmation a expiré. Envoyez /cancel à nouveau.

## Accès

welcome-premium = { $count ->
    [one] Bienvenue dans premium ! Voici votre invitation personnelle. Elle fonctionne une fois et expire dans 24 heures ; envoyez /join à tout moment pour en obtenir une nouvelle.
   *[other] Bienvenue dans premium ! Voici vos invitations personnelles vers { $count } discussions. Chacune fonctionne une fois et expire dans 24 heures ; envoyez /join à tout moment pour en obtenir de nouvelles.
}
welcome-no-chat = Bienvenue dans premium ! Votre abonnement est actif.
chat-line = • { $name } : { $description }
chat-line-no-description = • { $name }
join-button = { $count ->
    [one] Rejoindre la discussion premium
   *[other] Rejoindre la discussion { $number }
}
join-named-button = Rejoindre { $name }
join-links = { $count ->
    [one] Voici une nouvelle invitation, rien que pour vous. Elle fonctionne une fois et expire dans 24 heures ; vos anciens liens ne fonctionnent plus.
   *[other] Voici de nouvelles invitations vers vos { $count } discussions, rien que pour vous. Chacune fonctionne une fois et expire dans 24 heures ; vos anciens liens ne fonctionnent plus.
}
join-link-button = Obtenir mon lien d'invitation
join-no-access = Vous n'avez pas encore accès. Choisissez une formule pour nous rejoindre :
payment-failed = Votre dernier paiement n'est pas passé. Mettez à jour votre moyen de paiement pour garder votre accès :
payment-recovered = Votre paiement est passé. Merci, votre accès continue.
duplicate-refunded = Vous aviez déjà un abonnement : le second que vous venez de payer a été annulé et son paiement remboursé. Votre premier abonnement continue comme avant.
action-required = Votre banque demande de confirmer votre paiement. Confirmez-le ici pour garder votre accès :
action-required-button = Confirmer le paiement
ending-soon = Attention : votre accès prend fin le { $date }. Envoyez /subscribe pour continuer.
renewal-soon = Votre abonnement sera renouvelé le { $date } pour { $amount }. Rien à faire pour continuer ; /cancel sinon.
trial-ending = { $renews ->
    [yes] Votre essai gratuit se termine le { $date } ; votre abonnement payant commencera alors. Envoyez /cancel si vous ne souhaitez pas continuer.
   *[no] Votre essai gratuit se termine le { $date }. Envoyez /subscribe pour garder votre accès.
}
win-back = Vous nous manquez ! Votre accès a pris fin il y a quelque temps. Choisissez une formule pour revenir quand vous le souhaitez :
access-ended = { $reason ->
    [revoked] Votre accès premium a pris fin car un administrateur l'a révoqué. Envoyez /subscribe pour revenir à tout moment.
    [payment-failed] Votre accès premium a pris fin car le paiement n'a pas pu être prélevé. Envoyez /subscribe pour revenir à tout moment.
    [canceled] Votre accès premium a pris fin car votre abonnement a été résilié. Envoyez /subscribe pour revenir à tout moment.
    [refunded] Votre accès premium a pris fin car votre paiement a été remboursé. Envoyez /subscribe pour revenir à tout moment.
    [disputed] Votre accès premium est suspendu tant qu'un litige sur votre paiement est ouvert.
    [plan-changed] Votre nouvelle formule n'inclut pas certaines discussions, vous en avez donc été retiré.
   *[expired] Votre accès premium a pris fin car votre abonnement est terminé. Envoyez /subscribe pour revenir à tout moment.
}
join-declined = Pour rejoindre cette discussion, il vous faut un abonnement actif. Envoyez /subscribe pour en souscrire un.
removed-no-access = Vous avez été retiré d'une discussion premium car vous n'avez pas d'abonnement actif. Envoyez /subscribe pour nous rejoindre.

## Administration

stats =
    Utilisateurs : { $users } ({ $blocked } ont bloqué le bot)
    Avec accès : { $active }
stats-states = Actifs { $active }, en essai { $trialing }, en retard { $pastdue }, résiliés { $canceled }, expirés { $expired }, suspendus { $suspended }
stats-plan = { "  " }{ $plan } : { $count }
stats-mrr = Revenu mensuel récurrent : { $amount }
stats-mrr-none = Revenu mensuel récurrent : aucun pour l'instant
stats-30d = 30 derniers jours : { $joined } arrivées, { $left } départs ; paiement terminé dans { $completed } cas sur { $started } ({ $conversion } %)
user-info =
    Utilisateur { $user } : { $state }
    Formule : { $plan }, jusqu'au { $until }
user-lifetime = à vie
user-audit-line = { $date } : { $from } → { $to } ({ $actor } : { $reason })
user-no-audit = Pas encore d'historique.
usage = Utilisation : { $usage }
granted = C'est fait : { $user } a { $plan } jusqu'au { $date }.
revoked = C'est fait : { $user } n'a plus accès.
segment = { $segment ->
    [active] les membres ayant accès
    [trialing] les utilisateurs en essai
    [past-due] les utilisateurs en retard de paiement
    [expired] les anciens membres
    [never-paid] les utilisateurs qui n'ont jamais payé
   *[all] tout le monde
}
broadcast-confirm-all = Ci-dessus, ce que recevront { $count } utilisateurs. L'envoyer ?
broadcast-confirm = Ci-dessus, ce que recevront { $segment }. L'envoyer ?
broadcast-send-button = Envoyer
broadcast-discard-button = Abandonner
broadcast-discarded = Envoi abandonné.
broadcast-expired = Ce brouillon a expiré. Envoyez /broadcast à nouveau.
broadcast-started = Envoi lancé. Je vous tiendrai au courant ici.
broadcast-progress = Envoi : { $done }/{ $total } traités, { $sent } remis.
broadcast-stopped = Envoi annulé ; plus rien ne sera envoyé.
broadcast-canceled = { $count ->
    [0] Aucun envoi n'est en cours.
    [one] Annulation d'un envoi.
   *[other] Annulation de { $count } envois.
}
admin-alert = Attention, utilisateur { $user } : { $detail }
admin-missing-rights = Il manque des droits au bot dans le chat { $chat } : { $rights }. Nommez-le administrateur avec « Inviter des utilisateurs » et « Bannir des utilisateurs », sinon les abonnés des plans qui ouvrent ce chat n'y reçoivent pas de lien et les inconnus ne peuvent pas être retirés.

## Telegram Stars

plan-price-or = { $card } ou { $stars }
plan-price-stars = ⭐ { $stars } Stars tous les 30 jours
plan-price-stars-days = ⭐ { $stars } Stars pour { $days ->
    [one] { $days } jour
   *[other] { $days } jours
}
plan-price-stars-lifetime = ⭐ { $stars } Stars, accès à vie
stars-button = ⭐ Payer { $stars } Stars
pay-prompt-stars = Payez par carte avec Stripe, ou en Telegram Stars directement ici. Vous recevrez votre invitation dès que le paiement sera passé.
pay-prompt-stars-only = Touchez le bouton pour payer en Telegram Stars directement ici. Vous recevrez votre invitation dès que le paiement sera passé.
stars-refused-not-ours = Cette facture n'est plus valable. Envoyez /subscribe pour en obtenir une nouvelle.
stars-refused-plan-gone = Cette formule n'est plus vendue en Stars. Envoyez /plans pour voir l'offre.
stars-refused-price = Le prix a changé. Envoyez /subscribe pour une nouvelle facture.
stars-refused-entitled = Vous avez déjà accès (ou un abonnement). Envoyez /status pour voir jusqu'à quand.
stars-refused-unavailable = Les paiements ne peuvent pas être vérifiés pour le moment. Réessayez dans une minute.
payment-unplaced = Votre paiement est arrivé, mais il ne correspond à aucune de nos offres. Un administrateur a été prévenu et va s'en occuper.
status-rail = Payé par : { $rail ->
    [stars] Telegram Stars
    [grant] un accès offert par un administrateur
   *[stripe] carte (Stripe)
}
portal-stars = Vous payez en Telegram Stars : l'abonnement se gère dans les réglages de Telegram (Réglages › Mes Stars). Vous pouvez aussi envoyer /cancel ici pour arrêter le renouvellement.
refund-done = { $stars } Stars remboursées à l'utilisateur { $user } (paiement { $charge }).
refund-none = L'utilisateur { $user } n'a aucun paiement en Telegram Stars à rembourser.
refund-failed = Telegram a refusé le remboursement : { $reason }
stats-stars = Telegram Stars : ⭐ { $monthly } par mois en abonnements ; { $paid } payées en 30 jours
