{{/*
Object names are fixed ("ironlb-..."), not derived from the release name:
IronLB is a cluster singleton, and the binaries' flag defaults
(-webhook-configuration, -webhook-service, -members-secret) name these
objects.
*/}}

{{/* ironlb.labels: the labels of every object; COMPONENT may be empty. */}}
{{- define "ironlb.labels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/*
ironlb.selectorLabels: what a workload's selector matches. Kept to name and
component, so the selectors (immutable once created) stay the same across
releases and chart versions.
*/}}
{{- define "ironlb.selectorLabels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* ironlb.image: repository:tag of a component's image values. */}}
{{- define "ironlb.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .root.Chart.AppVersion) -}}
{{- end }}

{{/*
ironlb.podAnnotations: the Prometheus annotations (scheme https when metrics
are served securely) plus the component's
podAnnotations (which win), as YAML; empty if there are none.
*/}}
{{- define "ironlb.podAnnotations" -}}
{{- $a := dict }}
{{- if .root.Values.prometheus.annotations }}
{{- $_ := set $a "prometheus.io/scrape" "true" }}
{{- $_ := set $a "prometheus.io/port" (toString .port) }}
{{- $_ := set $a "prometheus.io/scheme" (ternary "https" "http" .root.Values.metrics.secure) }}
{{- end }}
{{- $a = merge (deepCopy (.values.podAnnotations | default dict)) $a }}
{{- if $a }}{{ toYaml $a }}{{ end }}
{{- end }}

{{/*
ironlb.ipMode: the controller's -ip-mode. With the IronLB datapath carrying
VIP traffic, Proxy keeps kube-proxy from short-circuiting it on the nodes;
with the datapath off, kube-proxy carries it and the mode is VIP.
*/}}
{{- define "ironlb.ipMode" -}}
{{- if eq .Values.speaker.datapath "off" }}VIP{{ else }}Proxy{{ end }}
{{- end }}

{{/*
ironlb.metricsCertDir: where a component mounts metrics.certSecret.
*/}}
{{- define "ironlb.metricsCertDir" -}}
/etc/ironlb/metrics-certs
{{- end }}
