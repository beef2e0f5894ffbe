{{/* Names, labels and the pieces every object shares. */}}
{{- define "cao.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cao.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cao.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cao.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cao.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cao.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cao.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: confidential-agent-operator
{{- end }}

{{- define "cao.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cao.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cao.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Restricted Pod Security Standard, pod and container level. */}}
{{- define "cao.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "cao.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* KBS TLS flags and mount, shared by the operator and the standalone KBS. */}}
{{- define "cao.kbsTlsArgs" -}}
{{- if .Values.kbs.tls.secretName }}
- --kbs-tls-cert=/etc/confidential-agent/kbs-tls/tls.crt
- --kbs-tls-key=/etc/confidential-agent/kbs-tls/tls.key
{{- if .Values.kbs.tls.caFromSecret }}
- --kbs-tls-ca=/etc/confidential-agent/kbs-tls/ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/* Alibaba Cloud credentials as env: references only, never values. */}}
{{- define "cao.alibabaEnv" -}}
{{- if has "alibaba" .Values.providers }}
{{- $c := .Values.alibaba.credentials }}
{{- if eq $c.mode "secret" }}
- name: ALIBABA_CLOUD_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "alibaba.credentials.secret.name is required with mode=secret" $c.secret.name }}
      key: {{ $c.secret.accessKeyIdKey }}
- name: ALIBABA_CLOUD_ACCESS_KEY_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $c.secret.name }}
      key: {{ $c.secret.accessKeySecretKey }}
{{- else if eq $c.mode "ecsRamRole" }}
- name: ALIBABA_CLOUD_ECS_METADATA
  value: {{ required "alibaba.credentials.ecsRamRole.roleName is required with mode=ecsRamRole" $c.ecsRamRole.roleName | quote }}
{{- else if and (eq $c.mode "rrsa") $c.rrsa.roleArn }}
- name: ALIBABA_CLOUD_ROLE_ARN
  value: {{ $c.rrsa.roleArn | quote }}
- name: ALIBABA_CLOUD_OIDC_PROVIDER_ARN
  value: {{ required "alibaba.credentials.rrsa.oidcProviderArn is required with rrsa.roleArn" $c.rrsa.oidcProviderArn | quote }}
- name: ALIBABA_CLOUD_OIDC_TOKEN_FILE
  value: /var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token
{{- end }}
{{- end }}
{{- end }}

{{- define "cao.rrsaProjected" -}}
{{- $c := .Values.alibaba.credentials }}
{{- if and (has "alibaba" .Values.providers) (eq $c.mode "rrsa") $c.rrsa.roleArn }}true{{- end }}
{{- end }}
