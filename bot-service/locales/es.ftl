# Todos los textos del bot, en español. Los ids y las variables son los
# mismos en todos los idiomas (un test lo comprueba).

## /start, /help, /plans

greeting = ¡Bienvenido, { $name }!
premium-pitch = Una suscripción premium te da acceso a nuestros chats privados para miembros.
start-footer = Envía /subscribe para unirte, o /help para ver todo lo que puedo hacer.
plans-header = Planes:
plan-line =
    • { $name }: { $price }
      { $description }
plan-line-no-price =
    • { $name }
      { $description }
plan-button = { $name } · { $price }
plan-price-recurring = { $count ->
    [1] { $amount } al { $interval ->
        [day] día
        [week] semana
        [year] año
       *[month] mes
    }
   *[other] { $amount } cada { $count } { $interval ->
        [day] días
        [week] semanas
        [year] años
       *[month] meses
    }
}
plan-price-from = desde { $amount }
plan-price-once = { $amount }, pago único
plan-price-days = { $amount } por { $days ->
    [one] { $days } día
   *[other] { $days } días
}
plan-price-lifetime = { $amount }, acceso de por vida
plan-trial = { $price }, { $days ->
    [one] el primer día gratis
   *[other] los primeros { $days } días gratis
}
plans-unavailable = Ahora no se pueden mostrar los planes; inténtalo de nuevo en un minuto.
plans-none = No hay planes a la venta en este momento.
help =
    Esto es lo que puedo hacer:
    /start - bienvenida y planes
    /plans - los planes disponibles
    /subscribe - elegir un plan y pagar
    /join - enlaces de invitación nuevos a tus chats
    /status - tu suscripción
    /portal - gestionar la facturación
    /cancel - cancelar al final del periodo
    /help - este mensaje
help-admin =
    Administración:
    /stats - miembros, ingresos y conversión
    /user <usuario> - estado e historial de un miembro
    /grant <usuario> <plan> <días> [motivo] - dar acceso
    /revoke <usuario> [grant] [motivo] - quitar el acceso
    /refund <usuario> [cargo] - reembolsar un pago en Telegram Stars
    /broadcast [segmento] <texto> - escribir a un segmento (o responde a un mensaje para copiarlo)
    /broadcast_cancel - detener los envíos en curso
unknown = Perdona, no te he entendido. Envía /help para ver lo que puedo hacer.
slow-down = Estás enviando mensajes demasiado rápido. Ve más despacio; te responderé en un momento.
try-later = Algo ha fallado por nuestra parte. Inténtalo de nuevo en un minuto.

## El menú de comandos (como mucho 256 caracteres cada uno)

cmd-start = Bienvenida y planes
cmd-plans = Los planes disponibles
cmd-subscribe = Elegir un plan y pagar
cmd-join = Enlaces de invitación nuevos
cmd-status = Tu suscripción
cmd-portal = Gestionar la facturación
cmd-cancel = Cancelar al final del periodo
cmd-help = Lo que puedo hacer
cmd-stats = Miembros, ingresos y conversión
cmd-user = Estado e historial de un miembro
cmd-grant = Dar acceso a un usuario
cmd-revoke = Quitar el acceso a un usuario
cmd-refund = Reembolsar un pago en Telegram Stars
cmd-broadcast = Escribir a un segmento de usuarios
cmd-broadcast-cancel = Detener los envíos en curso

## Pagar

choose-plan = Elige un plan:
pay-prompt = Pulsa el botón para pagar de forma segura con Stripe. Recibirás tu invitación en cuanto se confirme el pago.
pay-button = Pagar con tarjeta
already-subscribed = Ya tienes acceso. Usa /portal para gestionar tu suscripción.
payments-unavailable = Los pagos no están disponibles ahora mismo. Inténtalo más tarde.
thanks-for-paying = ¡Gracias! Estamos confirmando tu pago; tu invitación al chat premium llegará aquí en un momento.
checkout-canceled = No pasa nada, no se ha cobrado nada. Envía /subscribe cuando quieras.
resume-prompt = Tu suscripción terminará el { $date }. Reactívala para no perder el acceso.
resume-button = Reactivar la suscripción
resumed = Tu suscripción volverá a renovarse. ¡Gracias por quedarte!

## /status, /portal, /cancel

status-plan = Plan: { $plan }
status-state = Estado: { $state }
state = { $state ->
    [trialing] prueba
    [past-due] pago pendiente
    [canceled] cancelada (no se renueva)
    [expired] caducada
    [suspended] suspendida (hay un pago en disputa)
    [none] ninguna
   *[active] activa
}
status-renews = Se renueva el: { $date }
status-until = Acceso hasta: { $date }
status-access = Tienes acceso a los chats premium.
status-no-access = Ahora mismo no tienes acceso. Envía /subscribe para unirte.
portal-prompt = Gestiona aquí tu método de pago, tus facturas y tu suscripción:
portal-button = Abrir el portal de facturación
no-subscription = Aún no tienes una suscripción. Envía /subscribe para empezar una.
period-end = el final del periodo
cancel-confirm = ¿Cancelar tu suscripción? Mantienes el acceso hasta el { $date } y no se renovará.
button-yes-cancel = Sí, cancelar
button-keep = No, mantenerla
canceled = Tu suscripción está cancelada. Mantienes el acceso hasta el { $date }.
cancel-aborted = Perfecto, tu suscripción sigue igual.
confirmation-expired = Esa confirmación ha caducado. Envía /cancel otra vez.

## Acceso

welcome-premium = { $count ->
    [one] ¡Bienvenido a premium! Aquí tienes tu invitación personal. Funciona una vez y caduca en 24 horas; envía /join cuando quieras para pedir otra.
   *[other] ¡Bienvenido a premium! Aquí tienes tus invitaciones personales a { $count } chats. Cada una funciona una vez y caduca en 24 horas; envía /join cuando quieras para pedir otras.
}
welcome-no-chat = ¡Bienvenido a premium! Tu suscripción está activa.
chat-line = • { $name }: { $description }
chat-line-no-description = • { $name }
join-button = { $count ->
    [one] Entrar al chat premium
   *[other] Entrar al chat { $number }
}
join-named-button = Entrar a { $name }
join-links = { $count ->
    [one] Aquí tienes una invitación nueva, solo para ti. Funciona una vez y caduca en 24 horas; tus enlaces anteriores ya no funcionan.
   *[other] Aquí tienes invitaciones nuevas a tus { $count } chats, solo para ti. Cada una funciona una vez y caduca en 24 horas; tus enlaces anteriores ya no funcionan.
}
join-link-button = Obtener mi enlace de invitación
join-no-access = Aún no tienes acceso. Elige un plan para unirte:
payment-failed = Tu último pago no se ha podido cobrar. Actualiza tu método de pago para mantener el acceso:
payment-recovered = Tu pago se ha completado. Gracias, tu acceso continúa.
duplicate-refunded = Ya tenías una suscripción, así que hemos cancelado la segunda que acabas de pagar y te hemos devuelto su pago. Tu primera suscripción sigue como antes.
action-required = Tu banco pide que confirmes el pago. Confírmalo aquí para mantener el acceso:
action-required-button = Confirmar el pago
ending-soon = Aviso: tu acceso termina el { $date }. Envía /subscribe para continuar.
renewal-soon = Tu suscripción se renueva el { $date } por { $amount }. No tienes que hacer nada si quieres seguir; usa /cancel si no.
trial-ending = { $renews ->
    [yes] Tu prueba gratuita termina el { $date } y entonces empieza tu suscripción de pago. Envía /cancel si no quieres continuar.
   *[no] Tu prueba gratuita termina el { $date }. Envía /subscribe para mantener el acceso.
}
win-back = ¡Te echamos de menos! Tu acceso terminó hace un tiempo. Elige un plan para volver cuando quieras:
access-ended = { $reason ->
    [revoked] Tu acceso premium ha terminado porque un administrador lo ha revocado. Envía /subscribe para volver cuando quieras.
    [payment-failed] Tu acceso premium ha terminado porque no se pudo cobrar el pago. Envía /subscribe para volver cuando quieras.
    [canceled] Tu acceso premium ha terminado porque cancelaste tu suscripción. Envía /subscribe para volver cuando quieras.
    [refunded] Tu acceso premium ha terminado porque se te devolvió el pago. Envía /subscribe para volver cuando quieras.
    [disputed] Tu acceso premium está suspendido mientras haya abierta una disputa sobre tu pago.
    [plan-changed] Tu nuevo plan no incluye algunos chats, así que se te ha sacado de ellos.
   *[expired] Tu acceso premium ha terminado porque tu suscripción ha terminado. Envía /subscribe para volver cuando quieras.
}
join-declined = Para entrar en este chat necesitas una suscripción activa. Envía /subscribe para conseguirla.
removed-no-access = Se te ha sacado de un chat premium porque no tienes una suscripción activa. Envía /subscribe para unirte.

## Administración

stats =
    Usuarios: { $users } ({ $blocked } han bloqueado el bot)
    Con acceso: { $active }
stats-states = Activos { $active }, en prueba { $trialing }, con pago pendiente { $pastdue }, cancelados { $canceled }, caducados { $expired }, suspendidos { $suspended }
stats-plan = { "  " }{ $plan }: { $count }
stats-mrr = Ingresos recurrentes mensuales: { $amount }
stats-mrr-none = Ingresos recurrentes mensuales: todavía ninguno
stats-30d = Últimos 30 días: { $joined } altas, { $left } bajas; pago completado en { $completed } de { $started } ({ $conversion } %)
user-info =
    Usuario { $user }: { $state }
    Plan: { $plan }, hasta { $until }
user-lifetime = de por vida
user-audit-line = { $date }: { $from } → { $to } ({ $actor }: { $reason })
user-no-audit = Todavía sin historial.
usage = Uso: { $usage }
granted = Hecho: { $user } tiene { $plan } hasta el { $date }.
revoked = Hecho: { $user } ya no tiene acceso.
segment = { $segment ->
    [active] los miembros con acceso
    [trialing] los usuarios en prueba
    [past-due] los usuarios con un pago pendiente
    [expired] los antiguos miembros
    [never-paid] los usuarios que nunca han pagado
   *[all] todos
}
broadcast-confirm-all = Arriba está lo que recibirán { $count } usuarios. ¿Lo envío?
broadcast-confirm = Arriba está lo que recibirán { $segment }. ¿Lo envío?
broadcast-send-button = Enviar
broadcast-discard-button = Descartar
broadcast-discarded = Envío descartado.
broadcast-expired = Ese borrador ha caducado. Envía /broadcast otra vez.
broadcast-started = Envío iniciado. Te iré informando del progreso aquí.
broadcast-progress = Envío: { $done }/{ $total } procesados, { $sent } entregados.
broadcast-stopped = Envío cancelado; no se enviará nada más.
broadcast-canceled = { $count ->
    [0] No hay ningún envío en curso.
    [one] Cancelando 1 envío.
   *[other] Cancelando { $count } envíos.
}
admin-alert = Atención, usuario { $user }: { $detail }
admin-missing-rights = Al bot le faltan permisos en el chat { $chat }: { $rights }. Hazlo administrador allí con «Invitar usuarios» y «Bloquear usuarios»; si no, los usuarios de los planes que abren este chat no reciben enlace y no se puede expulsar a extraños.

## Telegram Stars

plan-price-or = { $card } o { $stars }
plan-price-stars = ⭐ { $stars } Stars cada 30 días
plan-price-stars-days = ⭐ { $stars } Stars por { $days ->
    [one] { $days } día
   *[other] { $days } días
}
plan-price-stars-lifetime = ⭐ { $stars } Stars, acceso de por vida
stars-button = ⭐ Pagar { $stars } Stars
pay-prompt-stars = Paga con tarjeta a través de Stripe o con Telegram Stars aquí mismo. Recibirás tu invitación en cuanto se confirme el pago.
pay-prompt-stars-only = Pulsa el botón para pagar con Telegram Stars aquí mismo. Recibirás tu invitación en cuanto se confirme el pago.
stars-refused-not-ours = Esta factura ya no es válida. Envía /subscribe para obtener una nueva.
stars-refused-plan-gone = Este plan ya no se vende en Stars. Envía /plans para ver los disponibles.
stars-refused-price = El precio ha cambiado. Envía /subscribe para obtener una factura nueva.
stars-refused-entitled = Ya tienes acceso (o una suscripción). Envía /status para ver hasta cuándo.
stars-refused-unavailable = Ahora mismo no se pueden comprobar los pagos. Inténtalo de nuevo en un minuto.
payment-unplaced = Tu pago ha llegado, pero no corresponde a ninguna oferta nuestra. Un administrador ya está avisado y lo resolverá.
status-rail = Pagado con: { $rail ->
    [stars] Telegram Stars
    [grant] una concesión de un administrador
   *[stripe] tarjeta (Stripe)
}
portal-stars = Pagas con Telegram Stars: la suscripción se gestiona en los ajustes de Telegram (Ajustes › Mis Stars). También puedes enviar /cancel aquí para detener la renovación.
refund-done = Reembolsadas { $stars } Stars al usuario { $user } (cargo { $charge }).
refund-none = El usuario { $user } no tiene ningún pago en Telegram Stars que reembolsar.
refund-failed = Telegram rechazó el reembolso: { $reason }
stats-stars = Telegram Stars: ⭐ { $monthly } al mes en suscripciones; { $paid } pagadas en 30 días
