# Todos los textos del bot, en español.

## /start, /help, /plans

greeting = ¡Bienvenido, { $name }!
premium-pitch = La suscripción premium te da acceso a nuestro chat privado de miembros.
start-footer = Envía /subscribe para unirte o /help para ver todo lo que puedo hacer.
plans-header = Planes:
plan-line = - { $name }: { $description }
plans-unavailable = No se pueden mostrar los planes ahora; inténtalo en un minuto.
plans-none = No hay planes a la venta en este momento.
help =
    Esto es lo que puedo hacer:
    /start - bienvenida y planes
    /plans - los planes disponibles
    /subscribe - elegir un plan y pagar
    /status - tu suscripción
    /portal - gestionar la facturación
    /cancel - cancelar al final del periodo
    /help - este mensaje
help-admin =
    Administración:
    /stats - usuarios y suscriptores
    /grant <usuario> <plan> <días> [motivo] - dar acceso
    /revoke <usuario> [motivo] - quitar acceso
    /broadcast <texto> - escribir a todos
unknown = Perdona, no lo he entendido. Envía /help para ver lo que puedo hacer.
slow-down = Estás enviando mensajes demasiado rápido. Espera un momento, por favor.
try-later = Algo ha fallado por nuestra parte. Inténtalo de nuevo en un minuto.

## Pagos

choose-plan = Elige un plan:
pay-prompt = Pulsa el botón para pagar de forma segura con Stripe. Recibirás tu invitación en cuanto se confirme el pago.
pay-button = Pagar con tarjeta
already-subscribed = Ya tienes acceso. Usa /portal para gestionar tu suscripción.
payments-unavailable = Los pagos no están disponibles ahora. Inténtalo más tarde.
thanks-for-paying = ¡Gracias! Estamos confirmando tu pago; tu invitación al chat premium llegará aquí en un momento.
checkout-canceled = Sin problema, no se ha cobrado nada. Envía /subscribe cuando quieras.
resume-prompt = Tu suscripción terminará el { $date }. Reanúdala para mantener el acceso sin interrupción.
resume-button = Reanudar suscripción
resumed = Tu suscripción se renovará de nuevo. ¡Gracias por quedarte!

## /status, /portal, /cancel

status-plan = Plan: { $plan }
status-state = Estado: { $state }
state = { $state ->
    [trialing] prueba
    [past-due] pago pendiente
    [canceled] cancelada (no se renueva)
    [expired] caducada
    [suspended] suspendida (un pago está en disputa)
    [none] ninguna
   *[active] activa
}
status-renews = Se renueva el: { $date }
status-until = Acceso hasta: { $date }
status-access = Tienes acceso al chat premium.
status-no-access = Ahora no tienes acceso. /subscribe para unirte.
portal-prompt = Gestiona aquí tu método de pago, facturas y suscripción:
portal-button = Abrir portal de facturación
no-subscription = Todavía no tienes suscripción. Envía /subscribe para empezar.
period-end = el final del periodo
cancel-confirm = ¿Cancelar tu suscripción? Mantienes el acceso hasta { $date } y no se renovará.
button-yes-cancel = Sí, cancelar
button-keep = No, mantenerla
canceled = Tu suscripción está cancelada. Mantienes el acceso hasta { $date }.
cancel-aborted = Perfecto, tu suscripción sigue igual.
confirmation-expired = Esa confirmación ha caducado. Envía /cancel otra vez.

## Acceso

welcome-premium = { $count ->
    [one] ¡Bienvenido a premium! Aquí tienes tu invitación personal al chat de miembros. Sirve una vez y caduca en 24 horas.
   *[other] ¡Bienvenido a premium! Aquí tienes tus invitaciones personales a los { $count } chats de miembros. Cada una sirve una vez y caduca en 24 horas.
}
welcome-no-chat = ¡Bienvenido a premium! Tu suscripción está activa.
join-button = { $count ->
    [one] Entrar al chat premium
   *[other] Entrar al chat { $number }
}
payment-failed = Tu último pago no se ha podido cobrar. Actualiza tu método de pago para mantener el acceso:
payment-recovered = Tu pago se ha completado. Gracias, tu acceso continúa.
action-required = Tu banco pide que confirmes el pago. Confírmalo aquí para mantener el acceso:
action-required-button = Confirmar pago
ending-soon = Aviso: tu acceso termina el { $date }. Envía /subscribe para continuar.
trial-ending = { $renews ->
    [yes] Tu prueba gratuita termina el { $date } y entonces empieza tu suscripción de pago. Envía /cancel si no quieres continuar.
   *[no] Tu prueba gratuita termina el { $date }. Envía /subscribe para mantener el acceso.
}
access-ended = { $reason ->
    [revoked] Tu acceso premium ha terminado porque un administrador lo ha revocado. Envía /subscribe para volver cuando quieras.
    [payment-failed] Tu acceso premium ha terminado porque no se pudo cobrar el pago. Envía /subscribe para volver cuando quieras.
    [canceled] Tu acceso premium ha terminado porque cancelaste tu suscripción. Envía /subscribe para volver cuando quieras.
    [refunded] Tu acceso premium ha terminado porque tu pago fue reembolsado. Envía /subscribe para volver cuando quieras.
    [disputed] Tu acceso premium está suspendido mientras haya una disputa abierta sobre tu pago.
    [plan-changed] Tu nuevo plan no incluye algunos chats, así que te hemos sacado de ellos.
   *[expired] Tu acceso premium ha terminado porque tu suscripción ha terminado. Envía /subscribe para volver cuando quieras.
}
join-declined = Para entrar al chat premium necesitas una suscripción activa. Envía /subscribe.
removed-no-access = Te hemos sacado del chat premium porque no tienes una suscripción activa. Envía /subscribe para unirte.

## Administración

stats =
    Usuarios: { $users } ({ $blocked } bloquearon el bot)
    Suscriptores activos: { $active }
stats-plan = { "  " }{ $plan }: { $count }
stats-churned = Bajas este mes: { $churned }
usage = Uso: { $usage }
granted = Hecho: { $user } tiene { $plan } hasta el { $date }.
revoked = Hecho: { $user } ya no tiene acceso.
broadcast-started = Difusión en cola para { $count } usuarios. Te informaré aquí.
broadcast-progress = Difusión: { $done }/{ $total } procesados, { $sent } entregados.
admin-alert = Atención, usuario { $user }: { $detail }
