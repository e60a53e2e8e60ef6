{{/* Names and labels. */}}
{{- define "jobwait.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jobwait.fullname" -}}
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

{{- define "jobwait.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jobwait.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jobwait.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "jobwait.selectorLabels" . }}
app.kubernetes.io/version: {{ include "jobwait.tag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "jobwait.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "jobwait.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "jobwait.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/*
jobwait.string writes a value as jobwait reads it: YAML numbers arrive as
float64, which would print 1000000 as 1e+06.
*/}}
{{- define "jobwait.string" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) -}}
{{- printf "%d" (int64 .) -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/*
jobwait.seconds is a duration as jobwait takes it (whole seconds, or a Go
duration of h, m, s and ms), rounded up to whole seconds.
*/}}
{{- define "jobwait.seconds" -}}
{{- $d := include "jobwait.string" . -}}
{{- if regexMatch "^[0-9]+$" $d -}}
{{- $d -}}
{{- else if regexMatch "^([0-9]+(\\.[0-9]+)?(h|ms|m|s))+$" $d -}}
{{- $unit := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(h|ms|m|s)" $d -1 -}}
{{- $u := regexFind "(h|ms|m|s)$" . -}}
{{- $total = addf $total (mulf (trimSuffix $u .) (get $unit $u)) -}}
{{- end -}}
{{- ceil $total | int -}}
{{- else -}}
{{- fail (printf "config.waitBudget %q: give whole seconds (30) or a duration of h, m, s and ms (30s, 1m30s)" $d) -}}
{{- end -}}
{{- end -}}

{{/* The wait budget in whole seconds: jobwait's default is 30 s. */}}
{{- define "jobwait.budgetSeconds" -}}
{{- include "jobwait.seconds" (default "30s" .Values.config.waitBudget) -}}
{{- end -}}

{{- define "jobwait.terminationGrace" -}}
{{- if ne (include "jobwait.string" .Values.terminationGracePeriodSeconds) "" -}}
{{- include "jobwait.string" .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int .Values.preStopSleepSeconds) (include "jobwait.budgetSeconds" . | int) 5 -}}
{{- end -}}
{{- end -}}

{{/*
jobwait.memoryMiB is resources.limits.memory in MiB, or "" when there is none.
*/}}
{{- define "jobwait.memoryMiB" -}}
{{- $q := include "jobwait.string" (dig "limits" "memory" "" (.Values.resources | default dict)) -}}
{{- if eq $q "" -}}
{{- else if regexMatch "^[0-9]+Gi$" $q -}}
{{- mul (trimSuffix "Gi" $q | int) 1024 -}}
{{- else if regexMatch "^[0-9]+Mi$" $q -}}
{{- trimSuffix "Mi" $q | int -}}
{{- else -}}
{{- fail (printf "resources.limits.memory %q: give it in Mi or Gi (512Mi, 2Gi) for the chart to size the caps from it" $q) -}}
{{- end -}}
{{- end -}}

{{/*
The caps (values.yaml explains the figures): memory per open connection
(33 KiB, a kept-alive one at its costliest), jobwait's own (32 MiB), and 80%
of the limit for both.
*/}}
{{- define "jobwait.maxConns" -}}
{{- $set := include "jobwait.string" .Values.config.maxConns -}}
{{- if ne $set "" -}}
{{- $set -}}
{{- else -}}
{{- $mib := include "jobwait.memoryMiB" . -}}
{{- if eq $mib "" -}}
{{- fail "config.maxConns and config.maxWaiters are sized from resources.limits.memory: set the limit, or set both" -}}
{{- end -}}
{{- $usableKiB := sub (div (mul ($mib | int) 1024 80) 100) 32768 -}}
{{- $conns := mul (div (div $usableKiB 33) 100) 100 -}}
{{- if lt $conns 100 -}}
{{- fail (printf "resources.limits.memory %sMi is too small: jobwait needs 32 MiB of its own and room for connections beside it (64Mi at the least)" $mib) -}}
{{- end -}}
{{- $conns -}}
{{- end -}}
{{- end -}}

{{- define "jobwait.maxWaiters" -}}
{{- $set := include "jobwait.string" .Values.config.maxWaiters -}}
{{- if ne $set "" -}}
{{- $set -}}
{{- else -}}
{{- $w := mul (div (div (mul (include "jobwait.maxConns" . | int) 7) 8) 100) 100 -}}
{{- max $w 1 -}}
{{- end -}}
{{- end -}}

{{/* Redis: where REDIS_URL comes from (values.yaml, redis). */}}
{{- define "jobwait.hasRedis" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "jobwait.redisSecretName" -}}
{{- default (printf "%s-redis" (include "jobwait.fullname" .)) .Values.redis.existingSecret -}}
{{- end -}}

{{/* The URL the chart's own Secret holds: the password put in, percent-encoded. */}}
{{- define "jobwait.redisURL" -}}
{{- $pw := .Values.redis.password | urlquery | replace "+" "%20" -}}
{{- .Values.redis.url | replace "$(REDIS_PASSWORD)" $pw -}}
{{- end -}}

{{- define "jobwait.tlsSecretName" -}}
{{- default (printf "%s-redis-tls" (include "jobwait.fullname" .)) .Values.redis.tls.existingSecret -}}
{{- end -}}

{{/* Which TLS files there are: "ca", "cert" (and key), in a list. */}}
{{- define "jobwait.tlsFiles" -}}
{{- $t := .Values.redis.tls -}}
{{- $files := list -}}
{{- if $t.existingSecret -}}
{{- if $t.caKey }}{{ $files = append $files "ca" }}{{ end -}}
{{- if and $t.certKey $t.keyKey }}{{ $files = append $files "cert" }}{{ end -}}
{{- else -}}
{{- if $t.ca }}{{ $files = append $files "ca" }}{{ end -}}
{{- if and $t.cert $t.key }}{{ $files = append $files "cert" }}{{ end -}}
{{- end -}}
{{- join "," $files -}}
{{- end -}}

{{/* config's keys and the environment variables they set. */}}
{{- define "jobwait.configEnv" -}}
{{- dict
  "waitBudget" "JOBWAIT_WAIT_BUDGET"
  "pollInterval" "JOBWAIT_POLL_INTERVAL"
  "heartbeat" "JOBWAIT_HEARTBEAT"
  "maxConns" "JOBWAIT_MAX_CONNS"
  "maxWaiters" "JOBWAIT_MAX_WAITERS"
  "maxConnsPerIp" "JOBWAIT_MAX_CONNS_PER_IP"
  "maxWaitersPerIp" "JOBWAIT_MAX_WAITERS_PER_IP"
  "trustedProxies" "JOBWAIT_TRUSTED_PROXIES"
  "maxIds" "JOBWAIT_MAX_IDS"
  "notify" "JOBWAIT_NOTIFY"
  "subscribe" "JOBWAIT_SUBSCRIBE"
  "resync" "JOBWAIT_RESYNC"
  "resultGrace" "JOBWAIT_RESULT_GRACE"
  "demo" "JOBWAIT_DEMO"
  "demoDelay" "JOBWAIT_DEMO_DELAY"
  "demoFailRate" "JOBWAIT_DEMO_FAIL_RATE"
  "readTimeout" "JOBWAIT_READ_TIMEOUT"
  "firstByteTimeout" "JOBWAIT_FIRST_BYTE_TIMEOUT"
  "minReadRate" "JOBWAIT_MIN_READ_RATE"
  "corsOrigins" "JOBWAIT_CORS_ORIGINS"
  "logLevel" "JOBWAIT_LOG_LEVEL"
  "pprofAddr" "JOBWAIT_PPROF_ADDR"
  "auth" "JOBWAIT_AUTH"
  "authAudience" "JOBWAIT_AUTH_AUDIENCE"
  "authIssuer" "JOBWAIT_AUTH_ISSUER"
  "authJwksUrl" "JOBWAIT_AUTH_JWKS_URL"
  | toJson -}}
{{- end -}}

{{/* The container's environment: the chart's, then extraEnv. */}}
{{- define "jobwait.env" -}}
{{ include "jobwait.chartEnv" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The environment variables the chart sets. */}}
{{- define "jobwait.chartEnv" -}}
- name: JOBWAIT_ADDR
  value: {{ printf ":%d" (int .Values.containerPort) | quote }}
{{- if .Values.redis.existingSecret }}
{{- if .Values.redis.existingSecretPasswordKey }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretPasswordKey }}
{{- end }}
{{- if .Values.redis.url }}
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretUrlKey }}
{{- end }}
{{- else if .Values.redis.url }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "jobwait.redisSecretName" . }}
      key: redis-url
{{- end }}
{{- $tls := splitList "," (include "jobwait.tlsFiles" .) }}
{{- $t := .Values.redis.tls }}
{{- if has "ca" $tls }}
- name: JOBWAIT_REDIS_CA
  value: {{ printf "%s/%s" $t.mountPath (ternary $t.caKey "ca.crt" (ne $t.existingSecret "")) | quote }}
{{- end }}
{{- if has "cert" $tls }}
- name: JOBWAIT_REDIS_CERT
  value: {{ printf "%s/%s" $t.mountPath (ternary $t.certKey "tls.crt" (ne $t.existingSecret "")) | quote }}
- name: JOBWAIT_REDIS_KEY
  value: {{ printf "%s/%s" $t.mountPath (ternary $t.keyKey "tls.key" (ne $t.existingSecret "")) | quote }}
{{- end }}
{{- if .Values.authSecret.existingSecret }}
- name: JOBWAIT_AUTH_SECRET_FILE
  value: {{ printf "%s/%s" .Values.authSecret.mountPath .Values.authSecret.key | quote }}
{{- end }}
{{- $names := include "jobwait.configEnv" . | fromJson }}
{{- $config := merge (dict "maxConns" (include "jobwait.maxConns" .) "maxWaiters" (include "jobwait.maxWaiters" .)) (omit .Values.config "maxConns" "maxWaiters") }}
{{- range $key, $value := $config }}
{{- $v := include "jobwait.string" $value }}
{{- if ne $v "" }}
- name: {{ required (printf "config.%s is no jobwait setting" $key) (get $names $key) }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
{{- with include "jobwait.memoryMiB" . }}
- name: GOMEMLIMIT
  value: {{ printf "%dMiB" (div (mul (int .) 90) 100) | quote }}
{{- end }}
{{- end -}}

{{/* What the chart refuses to render. */}}
{{- define "jobwait.validate" -}}
{{- if not (include "jobwait.hasRedis" .) -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- fail "more than one replica, or autoscaling, needs Redis (redis.url or redis.existingSecret): without it each replica runs an embedded store of its own, and a job started on one is unknown to the others" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.redis.password (not (contains "$(REDIS_PASSWORD)" .Values.redis.url)) -}}
{{- fail "redis.password is set but redis.url does not name it as $(REDIS_PASSWORD)" -}}
{{- end -}}
{{- if and .Values.redis.password .Values.redis.existingSecret -}}
{{- fail "redis.password goes into the chart's own Secret: with redis.existingSecret, keep the password in that Secret (existingSecretPasswordKey)" -}}
{{- end -}}
{{- if and (contains "$(REDIS_PASSWORD)" .Values.redis.url) (not .Values.redis.password) (not .Values.redis.existingSecretPasswordKey) -}}
{{- fail "redis.url names $(REDIS_PASSWORD): give redis.password, or redis.existingSecret with existingSecretPasswordKey" -}}
{{- end -}}
{{- $t := .Values.redis.tls -}}
{{- if and (not $t.existingSecret) (ne (empty $t.cert) (empty $t.key)) -}}
{{- fail "redis.tls: give cert and key together" -}}
{{- end -}}
{{- if and (include "jobwait.tlsFiles" .) (not (hasPrefix "rediss://" (default "rediss://" .Values.redis.url))) -}}
{{- fail "redis.tls is for rediss:// URLs: jobwait refuses TLS files with redis://" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (ne (include "jobwait.string" .Values.podDisruptionBudget.minAvailable) "") (ne (include "jobwait.string" .Values.podDisruptionBudget.maxUnavailable) "") -}}
{{- fail "podDisruptionBudget: give maxUnavailable or minAvailable, not both (set the other to \"\")" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.cpu.enabled) (not .Values.autoscaling.waiters.enabled) -}}
{{- fail "autoscaling: enable cpu, waiters or both" -}}
{{- end -}}
{{- range .Values.extraEnv -}}
{{- $name := .name -}}
{{- range include "jobwait.chartEnv" $ | fromYamlArray -}}
{{- if eq .name $name -}}
{{- fail (printf "extraEnv sets %s, which the chart sets from its values (config, redis, resources): set it there" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $grace := include "jobwait.terminationGrace" . | int -}}
{{- $budget := include "jobwait.budgetSeconds" . | int -}}
{{- if or (le $grace $budget) (lt $grace (add (int .Values.preStopSleepSeconds) 5)) -}}
{{- fail (printf "terminationGracePeriodSeconds %d: give more than the wait budget (%d s) and at least the preStop sleep + 5 s (%d s), or leave it empty" $grace $budget (add (int .Values.preStopSleepSeconds) 5)) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas" -}}
{{- end -}}
{{- if .Values.podDisruptionBudget.enabled -}}
{{- $replicas := ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled | int -}}
{{- $min := include "jobwait.string" .Values.podDisruptionBudget.minAvailable -}}
{{- $maxUn := include "jobwait.string" .Values.podDisruptionBudget.maxUnavailable -}}
{{- if or (and (regexMatch "^[0-9]+$" $min) (ge (int $min) $replicas)) (eq $min "100%") (regexMatch "^0+%?$" $maxUn) -}}
{{- fail (printf "podDisruptionBudget allows no replica of %d to be evicted: every node drain would stop at it" $replicas) -}}
{{- end -}}
{{- end -}}
{{- if gt (int (include "jobwait.maxWaiters" .)) (int (include "jobwait.maxConns" .)) -}}
{{- fail "config.maxWaiters is above config.maxConns: each held wait is one connection, so the rest could never be held" -}}
{{- end -}}
{{- end -}}

{{/* An IntOrString field: 1 as a number, 25% as a string. */}}
{{- define "jobwait.intOrString" -}}
{{- if regexMatch "^[0-9]+$" . }}{{ . }}{{ else }}{{ . | quote }}{{ end -}}
{{- end -}}

{{/* The held waits per replica the autoscaler keeps to: 60% of maxWaiters unless set. */}}
{{- define "jobwait.waitersTarget" -}}
{{- $set := int .Values.autoscaling.waiters.targetAverage -}}
{{- if gt $set 0 -}}
{{- $set -}}
{{- else -}}
{{- max 1 (div (mul (include "jobwait.maxWaiters" . | int) 60) 100) -}}
{{- end -}}
{{- end -}}
