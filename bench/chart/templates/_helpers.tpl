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

{{/* The render target annotates every object with the component it came from. */}}
{{- define "bench.metadata" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
name: {{ $app.name }}
namespace: {{ $root.Release.Namespace }}
labels:
  {{- include "bench.labels" . | nindent 2 }}
annotations:
  capstan.dev/component: envs/{{ $root.Values.environment }}/{{ $root.Release.Namespace }}/{{ $app.name }}
{{- end -}}

{{/* The app's HTTP health check; the argument is (list $root periodSeconds failureThreshold). */}}
{{- define "bench.probe" -}}
{{- $root := index . 0 -}}
httpGet:
  path: {{ $root.Values.healthPath }}
  port: http
periodSeconds: {{ index . 1 }}
timeoutSeconds: 2
failureThreshold: {{ index . 2 }}
{{- end -}}
