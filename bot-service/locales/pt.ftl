# Todos os textos do bot, em português. Os ids e as variáveis são os
# mesmos em todos os idiomas (um teste verifica).

## /start, /help, /plans

greeting = Boas-vindas, { $name }!
premium-pitch = Uma assinatura premium dá acesso aos nossos chats privados para membros.
start-footer = Envie /subscribe para entrar, ou /help para ver tudo o que posso fazer.
plans-header = Planos:
plan-line =
    • { $name }: { $price }
      { $description }
plan-line-no-price =
    • { $name }
      { $description }
plan-button = { $name } · { $price }
plan-price-recurring = { $count ->
    [1] { $amount } por { $interval ->
        [day] dia
        [week] semana
        [year] ano
       *[month] mês
    }
   *[other] { $amount } a cada { $count } { $interval ->
        [day] dias
        [week] semanas
        [year] anos
       *[month] meses
    }
}
plan-price-from = a partir de { $amount }
plan-price-once = { $amount }, pagamento único
plan-price-days = { $amount } por { $days ->
    [one] { $days } dia
   *[other] { $days } dias
}
plan-price-lifetime = { $amount }, acesso vitalício
plan-trial = { $price }, { $days ->
    [one] o primeiro dia grátis
   *[other] os primeiros { $days } dias grátis
}
plans-unavailable = Não é possível mostrar os planos agora; tente de novo em um minuto.
plans-none = Não há planos à venda no momento.
help =
    Veja o que eu posso fazer:
    /start - boas-vindas e planos
    /plans - os planos disponíveis
    /subscribe - escolher um plano e pagar
    /join - novos links de convite para os seus chats
    /status - a sua assinatura
    /portal - gerenciar a cobrança
    /cancel - cancelar no fim do período
    /help - esta mensagem
help-admin =
    Administração:
    /stats - membros, receita e conversão
    /user <usuário> - estado e histórico de um membro
    /grant <usuário> <plano> <dias> [motivo] - dar acesso
    /revoke <usuário> [grant] [motivo] - encerrar o acesso
    /refund <usuário> [cobrança] - reembolsar um pagamento em Telegram Stars
    /broadcast [segmento] <texto> - escrever para um segmento (ou responda a uma mensagem para copiá-la)
    /broadcast_cancel - parar os envios em andamento
unknown = Desculpe, não entendi. Envie /help para ver o que posso fazer.
slow-down = Você está enviando mensagens rápido demais. Vá mais devagar; respondo de novo em instantes.
try-later = Algo deu errado do nosso lado. Tente de novo em um minuto.

## O menu de comandos (no máximo 256 caracteres cada)

cmd-start = Boas-vindas e planos
cmd-plans = Os planos disponíveis
cmd-subscribe = Escolher um plano e pagar
cmd-join = Novos links de convite
cmd-status = A sua assinatura
cmd-portal = Gerenciar a cobrança
cmd-cancel = Cancelar no fim do período
cmd-help = O que eu posso fazer
cmd-stats = Membros, receita e conversão
cmd-user = Estado e histórico de um membro
cmd-grant = Dar acesso a um usuário
cmd-revoke = Encerrar o acesso de um usuário
cmd-refund = Reembolsar um pagamento em Telegram Stars
cmd-broadcast = Escrever para um segmento de usuários
cmd-broadcast-cancel = Parar os envios em andamento

## Pagamento

choose-plan = Escolha um plano:
pay-prompt = Toque no botão para pagar com segurança pela Stripe. Você recebe o convite assim que o pagamento for confirmado.
pay-button = Pagar com cartão
already-subscribed = Você já tem acesso. Use /portal para gerenciar a sua assinatura.
payments-unavailable = Os pagamentos não estão disponíveis agora. Tente mais tarde.
thanks-for-paying = Obrigado! Estamos confirmando o seu pagamento; o convite para o chat premium chega aqui em instantes.
checkout-canceled = Tudo bem, nada foi cobrado. Envie /subscribe quando quiser.
resume-prompt = A sua assinatura vai terminar em { $date }. Reative-a para não perder o acesso.
resume-button = Reativar a assinatura
resumed = A sua assinatura voltará a ser renovada. Obrigado por ficar!

## /status, /portal, /cancel

status-plan = Plano: { $plan }
status-state = Estado: { $state }
state = { $state ->
    [trialing] período de teste
    [past-due] pagamento em atraso
    [canceled] cancelada (não será renovada)
    [expired] expirada
    [suspended] suspensa (um pagamento está em disputa)
    [none] nenhuma
   *[active] ativa
}
status-renews = Renova em: { $date }
status-until = Acesso até: { $date }
status-access = Você tem acesso aos chats premium.
status-no-access = Você não tem acesso agora. Envie /subscribe para entrar.
portal-prompt = Gerencie aqui a forma de pagamento, as faturas e a assinatura:
portal-button = Abrir o portal de cobrança
no-subscription = Você ainda não tem uma assinatura. Envie /subscribe para começar uma.
period-end = o fim do período
cancel-confirm = Cancelar a sua assinatura? Você mantém o acesso até { $date } e ela não será renovada.
button-yes-cancel = Sim, cancelar
button-keep = Não, manter
canceled = A sua assinatura foi cancelada. Você mantém o acesso até { $date }.
cancel-aborted = Certo, a sua assinatura continua como está.
confirmation-expired = Essa confirmação expirou. Envie /cancel de novo.

## Acesso

welcome-premium = { $count ->
    [one] Boas-vindas ao premium! Aqui está o seu convite pessoal. Ele funciona uma vez e expira em 24 horas; envie /join quando quiser para pedir outro.
   *[other] Boas-vindas ao premium! Aqui estão os seus convites pessoais para { $count } chats. Cada um funciona uma vez e expira em 24 horas; envie /join quando quiser para pedir outros.
}
welcome-no-chat = Boas-vindas ao premium! A sua assinatura está ativa.
chat-line = • { $name }: { $description }
chat-line-no-description = • { $name }
join-button = { $count ->
    [one] Entrar no chat premium
   *[other] Entrar no chat { $number }
}
join-named-button = Entrar em { $name }
join-links = { $count ->
    [one] Aqui está um convite novo, só para você. Ele funciona uma vez e expira em 24 horas; os seus links anteriores não funcionam mais.
   *[other] Aqui estão convites novos para os seus { $count } chats, só para você. Cada um funciona uma vez e expira em 24 horas; os seus links anteriores não funcionam mais.
}
join-link-button = Receber meu link de convite
join-no-access = Você ainda não tem acesso. Escolha um plano para entrar:
payment-failed = O seu último pagamento não foi aprovado. Atualize a forma de pagamento para manter o acesso:
payment-recovered = O seu pagamento foi aprovado. Obrigado, o acesso continua.
duplicate-refunded = Você já tinha uma assinatura, então a segunda que acabou de pagar foi cancelada e o pagamento reembolsado. Sua primeira assinatura continua como antes.
action-required = O seu banco pede que você confirme o pagamento. Confirme aqui para manter o acesso:
action-required-button = Confirmar o pagamento
ending-soon = Atenção: o seu acesso termina em { $date }. Envie /subscribe para continuar.
renewal-soon = A sua assinatura será renovada em { $date } por { $amount }. Não precisa fazer nada para continuar; use /cancel se não quiser.
trial-ending = { $renews ->
    [yes] O seu teste grátis termina em { $date } e então começa a assinatura paga. Envie /cancel se não quiser continuar.
   *[no] O seu teste grátis termina em { $date }. Envie /subscribe para manter o acesso.
}
win-back = Sentimos a sua falta! O seu acesso terminou há algum tempo. Escolha um plano para voltar quando quiser:
access-ended = { $reason ->
    [revoked] O seu acesso premium terminou porque um administrador o revogou. Envie /subscribe para voltar quando quiser.
    [payment-failed] O seu acesso premium terminou porque não foi possível cobrar o pagamento. Envie /subscribe para voltar quando quiser.
    [canceled] O seu acesso premium terminou porque a sua assinatura foi cancelada. Envie /subscribe para voltar quando quiser.
    [refunded] O seu acesso premium terminou porque o seu pagamento foi reembolsado. Envie /subscribe para voltar quando quiser.
    [disputed] O seu acesso premium está suspenso enquanto houver uma disputa aberta sobre o seu pagamento.
    [plan-changed] O seu novo plano não inclui alguns chats, então você foi removido deles.
   *[expired] O seu acesso premium terminou porque a sua assinatura terminou. Envie /subscribe para voltar quando quiser.
}
join-declined = Para entrar neste chat você precisa de uma assinatura ativa. Envie /subscribe para fazer uma.
removed-no-access = Você foi removido de um chat premium porque não tem uma assinatura ativa. Envie /subscribe para entrar.

## Administração

stats =
    Usuários: { $users } ({ $blocked } bloquearam o bot)
    Com acesso: { $active }
stats-states = Ativos { $active }, em teste { $trialing }, em atraso { $pastdue }, cancelados { $canceled }, expirados { $expired }, suspensos { $suspended }
stats-plan = { "  " }{ $plan }: { $count }
stats-mrr = Receita recorrente mensal: { $amount }
stats-mrr-none = Receita recorrente mensal: ainda nenhuma
stats-30d = Últimos 30 dias: { $joined } entraram, { $left } saíram; pagamento concluído em { $completed } de { $started } ({ $conversion }%)
user-info =
    Usuário { $user }: { $state }
    Plano: { $plan }, até { $until }
user-lifetime = vitalício
user-audit-line = { $date }: { $from } → { $to } ({ $actor }: { $reason })
user-no-audit = Ainda sem histórico.
usage = Uso: { $usage }
granted = Feito: { $user } tem { $plan } até { $date }.
revoked = Feito: { $user } não tem mais acesso.
segment = { $segment ->
    [active] os membros com acesso
    [trialing] os usuários em teste
    [past-due] os usuários com pagamento em atraso
    [expired] os ex-membros
    [never-paid] os usuários que nunca pagaram
   *[all] todos
}
broadcast-confirm-all = Acima está o que { $count } usuários vão receber. Enviar?
broadcast-confirm = Acima está o que { $segment } vão receber. Enviar?
broadcast-send-button = Enviar
broadcast-discard-button = Descartar
broadcast-discarded = Envio descartado.
broadcast-expired = Esse rascunho expirou. Envie /broadcast de novo.
broadcast-started = Envio iniciado. Vou informar o andamento aqui.
broadcast-progress = Envio: { $done }/{ $total } processados, { $sent } entregues.
broadcast-stopped = Envio cancelado; nada mais será enviado.
broadcast-canceled = { $count ->
    [0] Nenhum envio está em andamento.
    [one] Cancelando 1 envio.
   *[other] Cancelando { $count } envios.
}
admin-alert = Atenção, usuário { $user }: { $detail }
admin-missing-rights = O bot não tem permissões no chat { $chat }: { $rights }. Torne-o administrador lá com «Convidar usuários» e «Banir usuários»; caso contrário, os usuários dos planos que abrem este chat não recebem link e estranhos não podem ser removidos.

## Telegram Stars

plan-price-or = { $card } ou { $stars }
plan-price-stars = ⭐ { $stars } Stars a cada 30 dias
plan-price-stars-days = ⭐ { $stars } Stars por { $days ->
    [one] { $days } dia
   *[other] { $days } dias
}
plan-price-stars-lifetime = ⭐ { $stars } Stars, acesso vitalício
stars-button = ⭐ Pagar { $stars } Stars
pay-prompt-stars = Pague com cartão pelo Stripe ou com Telegram Stars aqui mesmo. Você recebe o convite assim que o pagamento for confirmado.
pay-prompt-stars-only = Toque no botão para pagar com Telegram Stars aqui mesmo. Você recebe o convite assim que o pagamento for confirmado.
stars-refused-not-ours = Esta fatura não é mais válida. Envie /subscribe para receber uma nova.
stars-refused-plan-gone = Este plano não é mais vendido em Stars. Envie /plans para ver os disponíveis.
stars-refused-price = O preço mudou. Envie /subscribe para receber uma nova fatura.
stars-refused-entitled = Você já tem acesso (ou uma assinatura). Envie /status para ver até quando.
stars-refused-unavailable = Não é possível verificar pagamentos agora. Tente de novo em um minuto.
payment-unplaced = Seu pagamento chegou, mas não corresponde a nenhuma oferta nossa. Um administrador foi avisado e vai resolver.
status-rail = Pago com: { $rail ->
    [stars] Telegram Stars
    [grant] uma concessão de um administrador
   *[stripe] cartão (Stripe)
}
portal-stars = Você paga com Telegram Stars: a assinatura é gerenciada nas configurações do Telegram (Configurações › Minhas Stars). Você também pode enviar /cancel aqui para parar a renovação.
refund-done = Reembolsadas { $stars } Stars ao usuário { $user } (cobrança { $charge }).
refund-none = O usuário { $user } não tem pagamento em Telegram Stars para reembolsar.
refund-failed = O Telegram recusou o reembolso: { $reason }
stats-stars = Telegram Stars: ⭐ { $monthly } por mês em assinaturas; { $paid } pagas em 30 dias
