{{/*
Helpers shared by every template, the monitoring ones included.

  fleetwright.fullname                    <fullname>, the prefix of every object name
  fleetwright.labels         (dict "context" $ "component" "controller")   labels of an object
  fleetwright.selectorLabels (dict "context" $ "component" "gateway")      labels a selector matches
  fleetwright.componentName  (dict "context" $ "component" "gateway")      <fullname>-gateway

component is controller, gateway or report-store, or empty for objects of
none (CRD roles, rules, dashboards): then no app.kubernetes.io/component
label. A component's values are .Values.<component>, or .Values.<values>
when the dict names them (report-store's are reportStore).
*/}}

{{- define "fleetwright.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Helm's usual fullname: the release name, or <release>-<chart> when it does not contain the chart's name. */}}
{{- define "fleetwright.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fleetwright.componentName" -}}
{{- printf "%s-%s" (include "fleetwright.fullname" .context) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fleetwright.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleetwright.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* A component's selector labels as k=v,k=v, for the controller's pod label flags. */}}
{{- define "fleetwright.podLabelsFlag" -}}
{{- $pairs := list }}
{{- range $k, $v := include "fleetwright.selectorLabels" . | fromYaml }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "fleetwright.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "fleetwright.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: fleetwright
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
{{- end }}

{{/* The image of the controller, the gateway, and the browser and runner pods. */}}
{{- define "fleetwright.image" -}}
{{- $image := .Values.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{- define "fleetwright.serviceAccountName" -}}
{{- $values := index .context.Values (.values | default .component) }}
{{- default (include "fleetwright.componentName" .) $values.serviceAccount.name }}
{{- end }}

{{/*
What every Tunnel's status.url starts with: controller.gatewayUrl, else the
Ingress host, else the gateway Service inside the cluster.
*/}}
{{- define "fleetwright.gatewayUrl" -}}
{{- $gateway := .Values.gateway }}
{{- if .Values.controller.gatewayUrl }}
{{- .Values.controller.gatewayUrl }}
{{- else if and $gateway.enabled $gateway.ingress.enabled }}
{{- printf "%s://%s" (ternary "wss" "ws" (not (empty $gateway.ingress.tls.secretName))) $gateway.ingress.host }}
{{- else if $gateway.enabled }}
{{- $service := include "fleetwright.componentName" (dict "context" . "component" "gateway") }}
{{- $port := ternary "" (printf ":%v" $gateway.service.port) (eq (int $gateway.service.port) 80) }}
{{- printf "ws://%s.%s.svc%s" $service .Release.Namespace $port }}
{{- end }}
{{- end }}

{{/* The report store's Service inside the cluster: where runner pods upload (the controller's --report-store-url). */}}
{{- define "fleetwright.reportStoreUrl" -}}
{{- $service := include "fleetwright.componentName" (dict "context" . "component" "report-store") }}
{{- printf "http://%s.%s.svc:%v" $service .Release.Namespace .Values.reportStore.service.port }}
{{- end }}

{{/*
What every status.reportURL starts with (the store's --public-url):
reportStore.publicUrl, else the Ingress host, else the Service inside the
cluster.
*/}}
{{- define "fleetwright.reportStorePublicUrl" -}}
{{- $store := .Values.reportStore }}
{{- if $store.publicUrl }}
{{- $store.publicUrl }}
{{- else if $store.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" (not (empty $store.ingress.tls.secretName))) $store.ingress.host }}
{{- else }}
{{- include "fleetwright.reportStoreUrl" . }}
{{- end }}
{{- end }}

{{/* A duration the schema allows (30s, 2m) in whole seconds. */}}
{{- define "fleetwright.seconds" -}}
{{- if hasSuffix "m" . }}{{ mul (int (trimSuffix "m" .)) 60 }}{{ else }}{{ int (trimSuffix "s" .) }}{{ end }}
{{- end }}

{{/*
The restricted Pod Security Standard, for the controller's and the gateway's
pods (the browser and runner pods the controller creates meet it too).
*/}}
{{- define "fleetwright.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "fleetwright.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
