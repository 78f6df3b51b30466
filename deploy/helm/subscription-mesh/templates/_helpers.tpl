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

{{/* The components as a list of (values key, name, target, protocol). */}}
{{- define "mesh.components" -}}
- {key: gateway, name: gateway, target: gateway, grpc: false, service: ""}
- {key: botService, name: bot-service, target: bot-service, grpc: true, service: bot.v1.BotService}
- {key: billingService, name: billing-service, target: billing-service, grpc: true, service: billing.v1.BillingService}
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

{{/* In-cluster URL of a gRPC component. */}}
{{- define "mesh.url" -}}
{{- printf "http://%s-%s:%v" (include "mesh.fullname" .root) .name .port -}}
{{- end -}}
