{{/* The chart's name. */}}
{{- define "mesh.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name for objects. */}}
{{- define "mesh.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "mesh.labels" -}}
app.kubernetes.io/name: {{ include "mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "mesh.selector" -}}
app.kubernetes.io/name: {{ include "mesh.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The components as a list of (values key, name, target, protocol, the
credentials it uses, its listen and metrics variables). */}}
{{- define "mesh.components" -}}
- key: gateway
  name: gateway
  target: gateway
  grpc: false
  service: ""
  addrVar: GATEWAY_ADDR
  metricsVar: GATEWAY_METRICS_ADDR
  secrets: [telegramWebhookSecret, stripeWebhookSecret, billingApiToken, botApiToken]
- key: botService
  name: bot-service
  target: bot-service
  grpc: true
  service: bot.v1.BotService
  addrVar: BOT_SERVICE_ADDR
  metricsVar: BOT_METRICS_ADDR
  # The webhook secret too: `mesh webhook set` runs in this pod.
  secrets: [telegramBotToken, telegramWebhookSecret, botApiToken, billingApiToken, billingAdminToken]
- key: billingService
  name: billing-service
  target: billing-service
  grpc: true
  service: billing.v1.BillingService
  addrVar: BILLING_SERVICE_ADDR
  metricsVar: BILLING_METRICS_ADDR
  # The bot token too: billing makes Stars invoices, refunds and renewals.
  secrets: [stripeSecretKey, telegramBotToken, billingApiToken, billingAdminToken, botApiToken]
{{- end -}}

{{/* Each credential of `secrets` and the variable it sets. */}}
{{- define "mesh.credentials" -}}
telegramBotToken: TELEGRAM_BOT_TOKEN
telegramWebhookSecret: TELEGRAM_WEBHOOK_SECRET
stripeSecretKey: STRIPE_SECRET_KEY
stripeWebhookSecret: STRIPE_WEBHOOK_SECRET
billingApiToken: BILLING_API_TOKEN
billingAdminToken: BILLING_ADMIN_TOKEN
botApiToken: BOT_API_TOKEN
{{- end -}}

{{/* `env` entries of credentials read from Secrets: (dict "root" $ "names"
list "redis" bool). Optional references: a key the Secret lacks leaves the
variable unset. */}}
{{- define "mesh.secretEnv" -}}
{{- $root := .root -}}
{{- $vars := include "mesh.credentials" . | fromYaml -}}
{{- range $name := .names }}
{{- $ref := index $root.Values.secrets $name }}
- name: {{ index $vars $name }}
  valueFrom:
    secretKeyRef:
      name: {{ default $root.Values.existingSecret $ref.existingSecret | quote }}
      key: {{ $ref.key | quote }}
      optional: true
{{- end }}
{{- with $root.Values.redis }}
{{- if not $.redis }}
{{- else if eq .source "secret" }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ default $root.Values.existingSecret .existingSecret | quote }}
      key: {{ .key | quote }}
{{- else if eq .source "url" }}
- name: REDIS_URL
  value: {{ .url | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Refuses configurations that would split state between pods: several
replicas (or an HPA) of a component without Redis, a `url` source
without a URL, or a Secret that exists and lacks the Redis key. */}}
{{- define "mesh.checkRedis" -}}
{{- $root := . -}}
{{- $redis := .Values.redis -}}
{{- if and (eq $redis.source "url") (not $redis.url) }}
{{- fail "redis.source is url but redis.url is empty" }}
{{- end }}
{{- if eq $redis.source "none" }}
{{- range $meta := include "mesh.components" $root | fromYamlArray }}
{{- $c := include "mesh.component" (dict "root" $root "key" $meta.key) | fromYaml }}
{{- if and $c.enabled (or $c.autoscaling.enabled (gt (int $c.replicas) 1)) }}
{{- fail (printf "redis.source is none, so each pod would keep its own state; %s needs exactly one replica and no autoscaling, or configure Redis (redis.source: secret or url)" $meta.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $redis.source "secret" }}
{{- $name := default .Values.existingSecret $redis.existingSecret }}
{{- $found := lookup "v1" "Secret" .Release.Namespace $name }}
{{- if and $found (not (hasKey (default dict $found.data) $redis.key)) }}
{{- fail (printf "Secret %s has no key %s: without REDIS_URL each pod would keep its own state (set redis.key, or redis.source: none for one replica)" $name $redis.key) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One component's values merged over the defaults: (dict "root" $ "key" "gateway"). */}}
{{- define "mesh.component" -}}
{{- $defaults := deepCopy .root.Values.components.default -}}
{{- $own := index .root.Values.components .key -}}
{{- toYaml (mergeOverwrite $defaults (deepCopy $own)) -}}
{{- end -}}

{{/* The image reference. */}}
{{- define "mesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* In-cluster URL of a gRPC component (https:// with grpcTls). */}}
{{- define "mesh.url" -}}
{{- printf "%s://%s-%s:%v" (ternary "https" "http" .root.Values.grpcTls.enabled) (include "mesh.fullname" .root) .name .port -}}
{{- end -}}

{{/* Where the gRPC TLS Secret is mounted. */}}
{{- define "mesh.tlsDir" -}}/etc/mesh/tls{{- end -}}

{{/* The GRPC_TLS_* variables, when grpcTls is on. */}}
{{- define "mesh.tlsEnv" -}}
{{- if .Values.grpcTls.enabled }}
- name: GRPC_TLS_CERT
  value: {{ printf "%s/tls.crt" (include "mesh.tlsDir" .) | quote }}
- name: GRPC_TLS_KEY
  value: {{ printf "%s/tls.key" (include "mesh.tlsDir" .) | quote }}
- name: GRPC_TLS_CA
  value: {{ printf "%s/ca.crt" (include "mesh.tlsDir" .) | quote }}
{{- end }}
{{- end -}}

{{/* Renders a map of variables as `env` entries, sorted by name: a map
has each name once, so merging into it can't duplicate one. */}}
{{- define "mesh.envList" -}}
{{- range $k := keys . | sortAlpha }}
- name: {{ $k | quote }}
  value: {{ index $ $k | toString | quote }}
{{- end }}
{{- end -}}
