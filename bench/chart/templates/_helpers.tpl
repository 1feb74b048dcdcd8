{{/* Capstan's standard labels; the argument is (list $root $app). */}}
{{- define "bench.labels" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
app.kubernetes.io/component: server
app.kubernetes.io/instance: {{ $app.name }}
app.kubernetes.io/managed-by: capstan
app.kubernetes.io/name: {{ $app.name }}
capstan.dev/environment: {{ $root.Values.environment }}
{{- end -}}

{{/* The labels that select an app's pods. */}}
{{- define "bench.selector" -}}
app.kubernetes.io/component: server
app.kubernetes.io/instance: {{ .name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "bench.metadata" -}}
{{- $app := index . 1 -}}
name: {{ $app.name }}
namespace: {{ (index . 0).Release.Namespace }}
labels:
  {{- include "bench.labels" . | nindent 2 }}
{{- end -}}

{{- define "bench.probe" -}}
httpGet:
  path: {{ .Values.healthPath }}
  port: http
periodSeconds: 10
timeoutSeconds: 2
failureThreshold: 3
{{- end -}}
