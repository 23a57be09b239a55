{{/* Name of the chart, or nameOverride. */}}
{{- define "ble.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name when it already holds the chart's name. */}}
{{- define "ble.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the exporter's pods. */}}
{{- define "ble.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ble.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "ble.labels" -}}
{{ include "ble.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: broker-lag-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ble.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ble.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ble.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}{{- end -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}


{{/* The exporter's pod template, shared by the Deployment and the sharded StatefulSet. */}}
{{- define "ble.podTemplate" -}}
metadata:
  labels:
    {{- include "ble.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed configuration rolls the pod.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ble.serviceAccountName" . }}
  # The kubernetes source reads the API with this service account's token.
  automountServiceAccountToken: true
  enableServiceLinks: false
  terminationGracePeriodSeconds: 15
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: exporter
      image: {{ include "ble.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve"]
      envFrom:
        - configMapRef:
            name: {{ include "ble.fullname" . }}
      {{- if or (gt (int .Values.shards) 1) .Values.kafka.sasl.existingSecret .Values.extraEnv }}
      env:
        {{- if gt (int .Values.shards) 1 }}
        # --shard-index auto takes the ordinal at the end of the pod name.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with .Values.kafka.sasl.existingSecret }}
        - name: BROKER_LAG_SASL_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ . }}
              key: {{ $.Values.kafka.sasl.usernameKey }}
        - name: BROKER_LAG_SASL_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ . }}
              key: {{ $.Values.kafka.sasl.passwordKey }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http-metrics
          containerPort: 9340
          protocol: TCP
      startupProbe:
        httpGet:
          path: /healthz
          port: http-metrics
        periodSeconds: 2
        failureThreshold: 30
      livenessProbe:
        httpGet:
          path: /healthz
          port: http-metrics
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      # Ready once the first Kafka snapshot is in: no empty scrapes after a restart.
      readinessProbe:
        httpGet:
          path: /readyz
          port: http-metrics
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 2
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if .Values.kafka.tls.existingSecret }}
        - name: kafka-tls
          mountPath: /etc/broker-lag-exporter/kafka-tls
          readOnly: true
        {{- end }}
  volumes:
    # The root filesystem is read-only; Python may still want a scratch directory.
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
    {{- with .Values.kafka.tls.existingSecret }}
    - name: kafka-tls
      secret:
        secretName: {{ . }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
