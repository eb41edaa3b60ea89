"""Field trees of the kubeadm configuration the current track sends, as data: every JSON name
a document may carry, nested the way kubeadm decodes it. A dict is an object with exactly those
keys; a one-element list is a list of that item; {ANY_KEY: x} is a map with free keys; the
strings below are leaves (ANY: a field whose value is not descended into).
tests/test_schemas_current.py checks every document the program sends against these trees,
because `kubeadm init` only warns about an unknown field and then drops it:
kubernetes/kubernetes@77647cdfc3ef0f2e22de53c1a7b8f10574e55cea:
cmd/kubeadm/app/util/config/initconfiguration.go (BytesToInitConfiguration passes
strictErrors=false; strict.VerifyUnmarshalStrict's error goes to klog.Warning).

Where each tree was read (kubernetes/kubernetes is too large to fetch; its files were read through
the code index, which stores unlabeled commits, so no copy at the v1.36.4 tag could be read):

- kubeadm.k8s.io/v1beta4 (InitConfiguration, ClusterConfiguration, JoinConfiguration and the types
  they hold): liggitt/kubernetes@94640da199f5d9df167ff8bef4e3aa0da2659aac:
  cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go, a fork commit carrying kubernetes#138260 (opened
  2026-04-07, merged for 1.37: in the v1.37.0-alpha.1 notes), which only turns the inline tags
  `json:",inline"` into `json:""`, read alike by encoding/json. Checked against
  kubernetes/kubernetes@1329935739c3aa007d23cb9a4dadfee9d59ff79b:
  cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go, a 1.31 development copy (it predates
  kubernetes#124442's upgrade image-pull fields): every type below is the same field for field,
  except ExternalEtcd.httpEndpoints, added in v1.35.0 by kubernetes#134890
  (kubernetes/kubernetes@008b3652959ca58af8be3fb5b6ecfe9ae7638282:CHANGELOG/CHANGELOG-1.35.md).
  The v1.36.0 notes add no kubeadm field (same commit, CHANGELOG/CHANGELOG-1.36.md: its API
  Change and Feature entries for kubeadm are a validate flag, retries, a timeout, feature gates,
  a preflight check and logs), and fields leave a kubeadm API only with a new version (v1beta3 to
  v1beta4), so 1.36 has exactly these.
- BootstrapToken: kubernetes/kubernetes@95f08499d652a6211121d8af35f470609217c730:
  cmd/kubeadm/app/apis/bootstraptoken/v1/types.go.
- core/v1 Taint and EnvVar (held by NodeRegistrationOptions and the control-plane components):
  kubernetes-validate==1.37.0:kubernetes_validate/kubernetes-json-schema/v1.36.0-local/
  _definitions.json, io.k8s.api.core.v1.Taint and io.k8s.api.core.v1.EnvVar.
- kubelet.config.k8s.io/v1beta1 KubeletConfiguration: kubernetes/kubelet@v0.36.3:
  config/v1beta1/types.go (commit bbb4f8f0907ace5f317f33e06413a55a5f4636f6, the staging mirror's
  kubernetes-1.36.3; it has no v0.36.4 yet, and the file is identical from v0.36.0 to v0.36.3).
  Every top-level field with its JSON type; nested objects other than memorySwap and
  registerWithTaints are ANY.
"""

from __future__ import annotations

from typing import Any

# Leaves: what a JSON value of the Go type looks like once YAML is parsed.
STRING = "string"
BOOL = "bool"
INT = "integer"  # int32/int64
NUMBER = "number"  # float64
DURATION = "duration"  # metav1.Duration, a Go duration string such as "4m0s"
TIME = "time"  # metav1.Time, an RFC 3339 timestamp
ANY = "any"
# The only key of a tree that stands for a map[string]X.
ANY_KEY = "*"

Tree = Any

# --- core/v1 (kubernetes-validate==1.37.0, v1.36.0-local/_definitions.json) -------------------

TAINT = {"key": STRING, "value": STRING, "effect": STRING, "timeAdded": TIME}
# EnvVarSource (configMapKeyRef, fieldRef, fileKeyRef, resourceFieldRef, secretKeyRef) is not
# descended: the program sends no extraEnvs.
ENV_VAR = {"name": STRING, "value": STRING, "valueFrom": ANY}

# --- bootstraptoken/v1 ------------------------------------------------------------------------

BOOTSTRAP_TOKEN = {
    "token": STRING,
    "description": STRING,
    "ttl": DURATION,
    "expires": TIME,
    "usages": [STRING],
    "groups": [STRING],
}

# --- kubeadm.k8s.io/v1beta4 -------------------------------------------------------------------

TYPE_META = {"apiVersion": STRING, "kind": STRING}
ARG = {"name": STRING, "value": STRING}
API_ENDPOINT = {"advertiseAddress": STRING, "bindPort": INT}
PATCHES = {"directory": STRING}
TIMEOUTS = {
    "controlPlaneComponentHealthCheck": DURATION,
    "kubeletHealthCheck": DURATION,
    "kubernetesAPICall": DURATION,
    "etcdAPICall": DURATION,
    "tlsBootstrap": DURATION,
    "discovery": DURATION,
    "upgradeManifests": DURATION,
}
NODE_REGISTRATION_OPTIONS = {
    "name": STRING,
    "criSocket": STRING,
    "taints": [TAINT],
    "kubeletExtraArgs": [ARG],
    "ignorePreflightErrors": [STRING],
    "imagePullPolicy": STRING,
    "imagePullSerial": BOOL,
}
INIT_CONFIGURATION = {
    **TYPE_META,
    "bootstrapTokens": [BOOTSTRAP_TOKEN],
    "dryRun": BOOL,
    "nodeRegistration": NODE_REGISTRATION_OPTIONS,
    "localAPIEndpoint": API_ENDPOINT,
    "certificateKey": STRING,
    "skipPhases": [STRING],
    "patches": PATCHES,
    "timeouts": TIMEOUTS,
}

IMAGE_META = {"imageRepository": STRING, "imageTag": STRING}
HOST_PATH_MOUNT = {
    "name": STRING,
    "hostPath": STRING,
    "mountPath": STRING,
    "readOnly": BOOL,
    "pathType": STRING,
}
CONTROL_PLANE_COMPONENT = {
    "extraArgs": [ARG],
    "extraVolumes": [HOST_PATH_MOUNT],
    "extraEnvs": [ENV_VAR],
}
API_SERVER = {**CONTROL_PLANE_COMPONENT, "certSANs": [STRING]}
DNS = {**IMAGE_META, "disabled": BOOL}
PROXY = {"disabled": BOOL}
LOCAL_ETCD = {
    **IMAGE_META,
    "dataDir": STRING,
    "extraArgs": [ARG],
    "extraEnvs": [ENV_VAR],
    "serverCertSANs": [STRING],
    "peerCertSANs": [STRING],
}
EXTERNAL_ETCD = {
    "endpoints": [STRING],
    "httpEndpoints": [STRING],  # since v1.35.0 (kubernetes#134890)
    "caFile": STRING,
    "certFile": STRING,
    "keyFile": STRING,
}
ETCD = {"local": LOCAL_ETCD, "external": EXTERNAL_ETCD}
NETWORKING = {"serviceSubnet": STRING, "podSubnet": STRING, "dnsDomain": STRING}
CLUSTER_CONFIGURATION = {
    **TYPE_META,
    "etcd": ETCD,
    "networking": NETWORKING,
    "kubernetesVersion": STRING,
    "controlPlaneEndpoint": STRING,
    "apiServer": API_SERVER,
    "controllerManager": CONTROL_PLANE_COMPONENT,
    "scheduler": CONTROL_PLANE_COMPONENT,
    "dns": DNS,
    "proxy": PROXY,
    "certificatesDir": STRING,
    "imageRepository": STRING,
    "featureGates": {ANY_KEY: BOOL},
    "clusterName": STRING,
    "encryptionAlgorithm": STRING,
    "certificateValidityPeriod": DURATION,
    "caCertificateValidityPeriod": DURATION,
}

BOOTSTRAP_TOKEN_DISCOVERY = {
    "token": STRING,
    "apiServerEndpoint": STRING,
    "caCertHashes": [STRING],
    "unsafeSkipCAVerification": BOOL,
}
FILE_DISCOVERY = {"kubeConfigPath": STRING}
DISCOVERY = {
    "bootstrapToken": BOOTSTRAP_TOKEN_DISCOVERY,
    "file": FILE_DISCOVERY,
    "tlsBootstrapToken": STRING,
}
JOIN_CONTROL_PLANE = {"localAPIEndpoint": API_ENDPOINT, "certificateKey": STRING}
JOIN_CONFIGURATION = {
    **TYPE_META,
    "dryRun": BOOL,
    "nodeRegistration": NODE_REGISTRATION_OPTIONS,
    "caCertPath": STRING,
    "discovery": DISCOVERY,
    "controlPlane": JOIN_CONTROL_PLANE,
    "skipPhases": [STRING],
    "patches": PATCHES,
    "timeouts": TIMEOUTS,
}

# --- kubelet.config.k8s.io/v1beta1 (kubernetes/kubelet@v0.36.3:config/v1beta1/types.go) --------

MEMORY_SWAP_CONFIGURATION = {"swapBehavior": STRING}
KUBELET_CONFIGURATION = {
    **TYPE_META,
    "enableServer": BOOL,
    "staticPodPath": STRING,
    "podLogsDir": STRING,
    "syncFrequency": DURATION,
    "fileCheckFrequency": DURATION,
    "httpCheckFrequency": DURATION,
    "staticPodURL": STRING,
    "staticPodURLHeader": {ANY_KEY: [STRING]},
    "address": STRING,
    "port": INT,
    "readOnlyPort": INT,
    "tlsCertFile": STRING,
    "tlsPrivateKeyFile": STRING,
    "tlsCipherSuites": [STRING],
    "tlsCurvePreferences": [INT],
    "tlsMinVersion": STRING,
    "rotateCertificates": BOOL,
    "serverTLSBootstrap": BOOL,
    "authentication": ANY,
    "authorization": ANY,
    "registryPullQPS": INT,
    "registryBurst": INT,
    "imagePullCredentialsVerificationPolicy": STRING,
    "preloadedImagesVerificationAllowlist": [STRING],
    "eventRecordQPS": INT,
    "eventBurst": INT,
    "enableDebuggingHandlers": BOOL,
    "enableContentionProfiling": BOOL,
    "healthzPort": INT,
    "healthzBindAddress": STRING,
    "oomScoreAdj": INT,
    "clusterDomain": STRING,
    "clusterDNS": [STRING],
    "streamingConnectionIdleTimeout": DURATION,
    "nodeStatusUpdateFrequency": DURATION,
    "nodeStatusReportFrequency": DURATION,
    "nodeLeaseDurationSeconds": INT,
    "imageMinimumGCAge": DURATION,
    "imageMaximumGCAge": DURATION,
    "imageGCHighThresholdPercent": INT,
    "imageGCLowThresholdPercent": INT,
    "volumeStatsAggPeriod": DURATION,
    "kubeletCgroups": STRING,
    "systemCgroups": STRING,
    "cgroupRoot": STRING,
    "cgroupsPerQOS": BOOL,
    "cgroupDriver": STRING,
    "cpuManagerPolicy": STRING,
    "singleProcessOOMKill": BOOL,
    "cpuManagerPolicyOptions": {ANY_KEY: STRING},
    "cpuManagerReconcilePeriod": DURATION,
    "memoryManagerPolicy": STRING,
    "topologyManagerPolicy": STRING,
    "topologyManagerScope": STRING,
    "topologyManagerPolicyOptions": {ANY_KEY: STRING},
    "qosReserved": {ANY_KEY: STRING},
    "runtimeRequestTimeout": DURATION,
    "hairpinMode": STRING,
    "maxPods": INT,
    "podCIDR": STRING,
    "podPidsLimit": INT,
    "resolvConf": STRING,
    "runOnce": BOOL,
    "cpuCFSQuota": BOOL,
    "cpuCFSQuotaPeriod": DURATION,
    "nodeStatusMaxImages": INT,
    "maxOpenFiles": INT,
    "contentType": STRING,
    "kubeAPIQPS": INT,
    "kubeAPIBurst": INT,
    "serializeImagePulls": BOOL,
    "maxParallelImagePulls": INT,
    "evictionHard": {ANY_KEY: STRING},
    "evictionSoft": {ANY_KEY: STRING},
    "evictionSoftGracePeriod": {ANY_KEY: STRING},
    "evictionPressureTransitionPeriod": DURATION,
    "evictionMaxPodGracePeriod": INT,
    "evictionMinimumReclaim": {ANY_KEY: STRING},
    "mergeDefaultEvictionSettings": BOOL,
    "podsPerCore": INT,
    "enableControllerAttachDetach": BOOL,
    "protectKernelDefaults": BOOL,
    "makeIPTablesUtilChains": BOOL,
    "iptablesMasqueradeBit": INT,
    "iptablesDropBit": INT,
    "featureGates": {ANY_KEY: BOOL},
    "failSwapOn": BOOL,
    "memorySwap": MEMORY_SWAP_CONFIGURATION,
    "containerLogMaxSize": STRING,
    "containerLogMaxFiles": INT,
    "containerLogMaxWorkers": INT,
    "containerLogMonitorInterval": DURATION,
    "configMapAndSecretChangeDetectionStrategy": STRING,
    "systemReserved": {ANY_KEY: STRING},
    "kubeReserved": {ANY_KEY: STRING},
    "reservedSystemCPUs": STRING,
    "showHiddenMetricsForVersion": STRING,
    "systemReservedCgroup": STRING,
    "kubeReservedCgroup": STRING,
    "enforceNodeAllocatable": [STRING],
    "allowedUnsafeSysctls": [STRING],
    "volumePluginDir": STRING,
    "providerID": STRING,
    "kernelMemcgNotification": BOOL,
    "logging": ANY,
    "enableSystemLogHandler": BOOL,
    "enableSystemLogQuery": BOOL,
    "shutdownGracePeriod": DURATION,
    "shutdownGracePeriodCriticalPods": DURATION,
    "shutdownGracePeriodByPodPriority": [ANY],
    "crashLoopBackOff": ANY,
    "reservedMemory": [ANY],
    "enableProfilingHandler": BOOL,
    "enableDebugFlagsHandler": BOOL,
    "seccompDefault": BOOL,
    "memoryThrottlingFactor": NUMBER,
    "memoryReservationPolicy": STRING,
    "registerWithTaints": [TAINT],
    "registerNode": BOOL,
    "tracing": ANY,
    "localStorageCapacityIsolation": BOOL,
    "containerRuntimeEndpoint": STRING,
    "imageServiceEndpoint": STRING,
    "failCgroupV1": BOOL,
    "userNamespaces": ANY,
}

KUBEADM_V1BETA4 = "kubeadm.k8s.io/v1beta4"
KUBELET_V1BETA1 = "kubelet.config.k8s.io/v1beta1"
# (apiVersion, kind) -> the tree of that document.
DOCUMENTS: dict[tuple[str, str], Tree] = {
    (KUBEADM_V1BETA4, "InitConfiguration"): INIT_CONFIGURATION,
    (KUBEADM_V1BETA4, "ClusterConfiguration"): CLUSTER_CONFIGURATION,
    (KUBEADM_V1BETA4, "JoinConfiguration"): JOIN_CONFIGURATION,
    (KUBELET_V1BETA1, "KubeletConfiguration"): KUBELET_CONFIGURATION,
}
