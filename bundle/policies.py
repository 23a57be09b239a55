"""deploy/policies/: the risk checks `lint` decides from one object, as ValidatingAdmissionPolicies.

One policy and one binding per check, generated from the catalogue and from the settings `lint`
reads (broker selectors and container, log dir env vars and paths, off-heap markers, the KEDA
floor, critical groups). The CEL follows `lint` step by step: a Pod, a workload's pod template or a
Strimzi `Kafka`/`KafkaNodePool` first becomes the broker container (env, command line, mounts,
memory limit), its volumes, its labels and its placement terms, as `lint/manifests.py` builds them
(the policy's `variables`); each check then reads only those, as `risk/pods.py` and
`risk/consumers.py` do. A message is the check, `lint`'s reason for this object and the catalogue's
fix (`message()`); tests/integration/test_policies.py runs the same objects through both.

Only CEL libraries of Kubernetes 1.29's environment are used (no `sort`, `cel.bind`, two-variable
comprehensions or `format`): a 1.30 apiserver, the first with ValidatingAdmissionPolicy v1,
compiles new expressions in that environment.

`python -m bundle.policies OUT_DIR [--config FILE] [lint flags]` writes the same files for your
own settings, read as `lint` reads them (e.g. `--kube-broker-selectors`).
"""

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from broker_lag_exporter.config.sections import KubeOptions, RiskOptions
from broker_lag_exporter.config.settings import ConfigError, LintSettings, load
from broker_lag_exporter.lint.manifests import STRIMZI_DATA
from broker_lag_exporter.model.broker_ids import (
    BROKER_COMMANDS,
    BROKER_ENV,
    BROKER_IMAGES,
    NOT_BROKER_LABELS,
    NOT_BROKER_OWNERS,
    TOOL_COMMANDS,
)
from broker_lag_exporter.model.kube import HOSTNAME_LABEL, ZONE_LABEL, Requirement, Selector
from broker_lag_exporter.model.kube_parse import KAFKA_TRIGGER_TYPES, parse_selector_string
from broker_lag_exporter.risk.checks import (
    CHECKS,
    KEDA_ACTIVATION_BELOW_THRESHOLD,
    KEDA_LAG_THRESHOLD_LOW,
    KEDA_MIN_REPLICAS_CRITICAL,
    LOG_DIR_EPHEMERAL,
    NO_MEMORY_LIMIT,
    NO_POD_ANTI_AFFINITY,
    NO_ZONE_SPREAD,
    OFFHEAP_ENABLED,
    Check,
)
from broker_lag_exporter.risk.consumers import KEDA_DEFAULT_ACTIVATION, KEDA_DEFAULT_LAG_THRESHOLD
from broker_lag_exporter.risk.pods import EPHEMERAL_VOLUMES, LEGACY_ZONE_LABEL

API_VERSION = "admissionregistration.k8s.io/v1"
PREFIX = "broker-lag-exporter-"
#: A namespace or an object labelled so is never judged (the binding's namespaceSelector, a matchCondition).
OPT_OUT_LABEL = "broker-lag-exporter.io/admission"
OPT_OUT_VALUE = "skip"
WARN = ("Warn", "Audit")
DENY = ("Deny", "Audit")
#: Checks `lint` runs that are no admission policy, and why (docs/risks.md says the same).
NOT_ADMISSION: Mapping[str, str] = {
    "no_pdb": "needs the PodDisruptionBudgets of the namespace: other objects, created in any order",
    "pdb_allows_multiple_down": "needs the budgets and how many broker pods each one selects",
    "session_timeout_exceeds_grace": "judges consumer workloads: a policy would judge every workload "
    "of the cluster, not only brokers",
}
# What `risk/consumers.py` reads as true (the critical annotation) and `risk/pods.py` as false
# (off-heap env var markers); tests/unit/bundle/test_policies.py holds them to those rules.
TRUE_WORDS = ("1", "on", "true", "yes")
FALSE_WORDS = ("", "0", "false", "no", "off")
#: lint sorts the lost log dirs; CEL before 1.34 cannot sort, so each dir is ranked by how many
#: are smaller: up to this many are named in lint's order (more are named as declared).
MAX_SORTED = 16
LOST_KINDS = tuple(sorted(EPHEMERAL_VOLUMES | {"container"}))
HOST_KEYS = (HOSTNAME_LABEL, ZONE_LABEL, LEGACY_ZONE_LABEL)
ZONE_KEYS = (ZONE_LABEL, LEGACY_ZONE_LABEL)
BROKER_RESOURCES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
    {
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "resources": ["statefulsets", "deployments", "daemonsets", "replicasets"],
    },
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"]},
    {"apiGroups": ["kafka.strimzi.io"], "apiVersions": ["*"], "resources": ["kafkas", "kafkanodepools"]},
)
KEDA_RESOURCES: tuple[dict[str, Any], ...] = (
    {"apiGroups": ["keda.sh"], "apiVersions": ["*"], "resources": ["scaledobjects"]},
)
# Kinds judged through their controller instead: refusing the pod of an admitted StatefulSet (or
# Strimzi's) would turn a risk into an outage, a broker that cannot come back, and the fix belongs
# in the controller's template, which is judged.
OWNED_SKIPPED = ("Pod", "ReplicaSet", "Job")


class Expression(str):
    """CEL text: written as a `|` block whatever it holds."""

    __slots__ = ()


def message(check: Check, reason: str) -> str:
    """Return a policy's message: the check, lint's reason for this object and the catalogue's fix."""
    return f"{check.name} ({check.severity}): {reason}; fix: {check.fix} ({check.anchor})"


def policy_name(check: Check) -> str:
    """Return the name of a check's policy and of its binding."""
    return PREFIX + check.name.replace("_", "-")


# ---- CEL building blocks


def lit(text: str) -> str:
    """Return a CEL string literal."""
    if any(ord(c) < 0x20 for c in text):
        raise ValueError(f"control character in {text!r}")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lits(items: Sequence[str]) -> str:
    """Return a CEL list of string literals."""
    return "[" + ", ".join(lit(i) for i in items) + "]"


def let(value: str, name: str, body: str) -> str:
    """Return `body` with `name` bound to `value` (a one-element list: no cel.bind before 1.34)."""
    return f"[{value}].map({name}, {body})[0]"


def has_path(root: str, path: str) -> str:
    """Return `has()` of every step of a dotted path below `root`."""
    steps = path.split(".")
    return " && ".join(f"has({root}.{'.'.join(steps[: i + 1])})" for i in range(len(steps)))


def last_value(pairs: str, key: str, var: str, body: str) -> str:
    """Return `body` over the pairs named `key` as `var` (a dict keeps the last one: `var[size - 1]`)."""
    return let(f"{pairs}.filter(p, p[0] == {key})", var, body)


def norm(path: str) -> str:
    """Return a path without a trailing slash, as posixpath.normpath leaves a mount path."""
    return f"({path}.endsWith('/') && {path} != '/' ? {path}.substring(0, {path}.size() - 1) : {path})"


def under(path: str, prefix: str) -> str:
    """Return whether a normalised path is the prefix or below it (`risk/pods.py: _under`)."""
    return f"({path} == {prefix} || {path}.startsWith({prefix} + '/'))"


def sorted_joined(items: str) -> str:
    """Return distinct strings sorted and joined by ", ", as `", ".join(sorted(set(items)))`."""
    rank = "ds.filter(y, y < x).size() == i"
    positions = "[" + ", ".join(str(i) for i in range(MAX_SORTED)) + "]"
    ordered = f"{positions}.filter(i, ds.exists(x, {rank})).map(i, ds.filter(x, {rank})[0])"
    return let(items, "ds", f"(ds.size() > {MAX_SORTED} ? ds : {ordered}).join(', ')")


def selector_cel(selector: Selector, labels: str) -> str:
    """Return a label selector as CEL over a label map (the empty selector matches everything)."""
    terms = [
        f"({lit(k)} in {labels} && {labels}[{lit(k)}] == {lit(v)})" for k, v in selector.match_labels.items()
    ]
    terms += [_requirement(r, labels) for r in selector.expressions]
    return "(" + " && ".join(terms) + ")" if terms else "true"


def _requirement(req: Requirement, labels: str) -> str:
    present = f"{lit(req.key)} in {labels}"
    within = f"{present} && {labels}[{lit(req.key)}] in {lits(sorted(req.values))}"
    return {
        "Exists": f"({present})",
        "DoesNotExist": f"!({present})",
        "In": f"({within})",
        "NotIn": f"!({within})",
    }[req.operator]


# A JBOD volume's id, else its position (`lint/manifests.py: _strimzi_storage`).
JBOD_ID = "(has(v.id) ? string(v.id) : string(variables.storage.volumes.indexOf(v)))"


def _strimzi_storage_kind(storage_type: str) -> str:
    """Return the volume kind lint gives a Strimzi storage type (`lint/manifests.py: _strimzi_storage`)."""
    return (
        f"(has({storage_type}) ? ({storage_type} == 'ephemeral' ? 'emptyDir'"
        f" : {storage_type} == 'persistent-claim' ? 'persistentVolumeClaim' : 'unknown') : 'unknown')"
    )


@dataclass(frozen=True, slots=True)
class Cel:
    """The CEL of the match conditions, the variables and the checks, for one set of settings."""

    kube: KubeOptions
    risk: RiskOptions

    # ---- which objects are judged

    def not_opted_out(self) -> str:
        """Return whether the object lacks the opt-out label (the new object: one update can add it)."""
        labels = "dyn(object).metadata.labels"
        return (
            f"!(has({labels}) && {lit(OPT_OUT_LABEL)} in {labels}"
            f" && {labels}[{lit(OPT_OUT_LABEL)}] == {lit(OPT_OUT_VALUE)})"
        )

    def spec_changed(self) -> str:
        """Return whether a create, or an update of the spec: controllers' metadata writes pass."""
        return (
            "request.operation != 'UPDATE' || !has(dyn(oldObject).spec) || !has(dyn(object).spec)"
            " || dyn(object).spec != dyn(oldObject).spec"
        )

    def broker(self) -> str:
        """Return whether the object declares brokers as `lint` recognises them (model/broker_ids.py).

        By its pod labels (the broker selectors), else by a container running a broker image,
        setting a broker-only variable or starting the broker; never a Job, a Kafka tool, a
        controller-only node or a Strimzi controller-only pool.
        """
        o = "dyn(object)"
        labels = (
            f"request.kind.kind == 'Pod' ? (has({o}.metadata.labels) ? {o}.metadata.labels : {{}})"
            f" : ({has_path(o, 'spec.template.metadata.labels')} ? {o}.spec.template.metadata.labels : {{}})"
        )
        selectors = [parse_selector_string(s) for s in self.kube.kube_broker_selectors]
        matched = "\n    || ".join(selector_cel(s, "l") for s in selectors) or "false"
        excluded = " || ".join(
            f"({lit(k)} in l && l[{lit(k)}] == {lit(v)})" for k, v in NOT_BROKER_LABELS.items()
        )
        owned = (
            f"request.kind.kind in {lits(OWNED_SKIPPED)} && has({o}.metadata.ownerReferences)"
            f" && {o}.metadata.ownerReferences.exists(r, has(r.controller) && r.controller)"
        )
        return (
            # A Kafka declares brokers itself unless its node pools do.
            f"request.kind.kind == 'Kafka'"
            f" ? {has_path(o, 'spec.kafka.replicas')} && has({o}.spec.kafka.storage)\n"
            f": request.kind.kind == 'KafkaNodePool' ? has({o}.spec)"
            f" && (!has({o}.spec.roles) || {o}.spec.roles.size() == 0 || 'broker' in {o}.spec.roles)\n"
            f": !({owned}) && !(request.kind.kind in {lits(sorted(NOT_BROKER_OWNERS))})\n"
            f"  && [{labels}].exists(l, !({excluded})"
            f" && (\n    {matched}\n    || {self._broker_container()}))"
        )

    def _broker_container(self) -> str:
        """Return whether a container of the object is a broker by image, variable or command."""
        o = "dyn(object)"
        containers = (
            f"(request.kind.kind == 'Pod' ? ({has_path(o, 'spec.containers')} ? {o}.spec.containers : [])"
            f" : ({has_path(o, 'spec.template.spec.containers')} ? {o}.spec.template.spec.containers : []))"
        )
        command = "((has(c.command) ? c.command : []) + (has(c.args) ? c.args : [])).join(' ')"
        # image_repository(): an optional registry (a first part with '.' or ':', or localhost),
        # an optional library/, the repository, then a tag and a digest.
        repositories = "|".join(sorted(BROKER_IMAGES))
        image = lit(f"^(?:[^/]*[.:][^/]*/|localhost/)?(?:library/)?(?:{repositories})(?::[^/@]*)?(?:@.*)?$")
        names = sorted({v for n in BROKER_ENV for v in (n, n.replace("KAFKA_", "KAFKA_CFG_", 1))})
        roles = " : ".join(
            f"c.env.exists(e, e.name == {lit(n)} && has(e.value))"
            f" ? c.env.filter(e, e.name == {lit(n)} && has(e.value))[0].value"
            for n in ("KAFKA_PROCESS_ROLES", "KAFKA_CFG_PROCESS_ROLES")
        )
        controller_only = (
            "(has(c.env) && " + let(f"{roles} : ''", "r", "r != '' && !r.contains('broker')") + ")"
        )
        evidence = (
            f"!{lits(TOOL_COMMANDS)}.exists(t, cmd.contains(t)) && !{controller_only}"
            f" && ((has(c.image) && c.image.matches({image}))"
            f" || (has(c.env) && c.env.exists(e, e.name in {lits(names)}))"
            f" || {lits(BROKER_COMMANDS)}.exists(b, cmd.contains(b)))"
        )
        return f"{containers}.exists(c, {let(command, 'cmd', evidence)})"

    def kafka_triggers(self) -> str:
        """Return whether a ScaledObject has a Kafka trigger."""
        o = "dyn(object)"
        return (
            f"{has_path(o, 'spec.triggers')}"
            f" && {o}.spec.triggers.exists(t, has(t.type) && t.type in {lits(sorted(KAFKA_TRIGGER_TYPES))})"
        )

    # ---- the broker pod, as lint/manifests.py builds it, and the KEDA triggers

    def variables(self) -> dict[str, str]:
        """Return every variable, in dependency order; a policy keeps those it reads."""
        return self._kubernetes() | self._strimzi() | self._broker_pod() | self._checks() | self._keda()

    def _kubernetes(self) -> dict[str, str]:
        name = lit(self.kube.kube_broker_container)
        return {
            "o": "dyn(object)",
            "strimzi": "request.kind.kind in ['Kafka', 'KafkaNodePool']",
            "spec": "request.kind.kind == 'Pod' ? variables.o.spec : variables.o.spec.template.spec",
            # The broker container: by name, else the first.
            "container": (
                f"variables.spec.containers.exists(c, c.name == {name})"
                f" ? variables.spec.containers.filter(c, c.name == {name})[0] : variables.spec.containers[0]"
            ),
        }

    def _strimzi(self) -> dict[str, str]:
        o, ks = "variables.o", "variables.kspec"
        return {
            # A Kafka's broker section, or a node pool's spec: the fields a pool does not set come
            # from its Kafka, which the policy cannot see (see Rule.pool_field).
            "kspec": f"request.kind.kind == 'Kafka' ? {o}.spec.kafka : {o}.spec",
            "storage": f"has({ks}.storage) ? {ks}.storage : {{}}",
            "jbod": "has(variables.storage.type) && variables.storage.type == 'jbod'",
            "jbodIds": f"has(variables.storage.volumes) ? variables.storage.volumes.map(v, {JBOD_ID}) : []",
            "jvm": f"has({ks}.jvmOptions) ? {ks}.jvmOptions : {{}}",
            "podTemplate": f"{has_path(ks, 'template.pod')} ? {ks}.template.pod : {{}}",
            "cluster": (
                f"request.kind.kind == 'Kafka' ? string({o}.metadata.name)"
                f" : has({o}.metadata.labels) && 'strimzi.io/cluster' in {o}.metadata.labels"
                f" && {o}.metadata.labels['strimzi.io/cluster'] != ''"
                f" ? string({o}.metadata.labels['strimzi.io/cluster']) : string({o}.metadata.name)"
            ),
            "pool": f"request.kind.kind == 'Kafka' ? 'kafka' : string({o}.metadata.name)",
        }

    def _broker_pod(self) -> dict[str, str]:
        c, ks, o = "variables.container", "variables.kspec", "variables.o"
        template_labels = (
            f"{has_path(o, 'spec.template.metadata.labels')} ? {o}.spec.template.metadata.labels : {{}}"
        )
        return {
            "containerName": f"variables.strimzi ? 'kafka' : string({c}.name)",
            # [name, value] of the env vars with a literal value (valueFrom cannot be read).
            "env": (
                f"variables.strimzi || !has({c}.env) ? []"
                f" : {c}.env.filter(e, has(e.value)).map(e, [string(e.name), string(e.value)])"
            ),
            "args": (
                "variables.strimzi\n"
                "? ['-Xmx', '-Xms'].filter(k, k in variables.jvm).map(k, k + string(variables.jvm[k]))\n"
                "  + ('-XX' in variables.jvm ? variables.jvm['-XX'].map(k,"
                " '-XX:' + string(k) + '=' + string(variables.jvm['-XX'][k])) : [])\n"
                "  + ('javaSystemProperties' in variables.jvm ? variables.jvm.javaSystemProperties.map(p,"
                " '-D' + string(p.name) + '=' + string(p.value)) : [])\n"
                f": ((has({c}.command) ? {c}.command : []) + (has({c}.args) ? {c}.args : []))"
                ".map(a, string(a))"
            ),
            # [mount path, volume name]
            "mountPaths": (
                "variables.strimzi\n"
                f"? (variables.jbod ? variables.jbodIds.map(i, [{lit(STRIMZI_DATA + '-')} + i, 'data-' + i])"
                f" : [[{lit(STRIMZI_DATA)}, 'data']])\n"
                f": has({c}.volumeMounts)"
                f" ? {c}.volumeMounts.map(m, [string(m.mountPath), string(m.name)]) : []"
            ),
            # [mount path, volume name, the path normalised as risk/pods.py compares it]
            "mounts": f"variables.mountPaths.map(m, [m[0], m[1], {norm('m[0]')}])",
            # [volume name, kind]: only the kinds a check tells apart.
            "volumes": (
                "variables.strimzi\n"
                "? (variables.jbod ? (has(variables.storage.volumes) ? variables.storage.volumes.map(v,"
                f" ['data-' + {JBOD_ID}, {_strimzi_storage_kind('v.type')}]) : [])"
                f" : [['data', {_strimzi_storage_kind('variables.storage.type')}]])\n"
                ": has(variables.spec.volumes) ? variables.spec.volumes.map(v, [string(v.name),"
                " has(v.emptyDir) ? 'emptyDir' : has(v.ephemeral) ? 'ephemeral' : 'other']) : []"
            ),
            "resources": (
                f"variables.strimzi ? (has({ks}.resources) ? {ks}.resources : {{}})"
                f" : (has({c}.resources) ? {c}.resources : {{}})"
            ),
            # The pod's labels: the first map holding a key wins (Strimzi's template over its own).
            "labelMaps": (
                "variables.strimzi\n"
                "? [dyn(has(variables.podTemplate.metadata) && has(variables.podTemplate.metadata.labels)"
                " ? variables.podTemplate.metadata.labels : {}),\n"
                "   dyn({'strimzi.io/cluster': variables.cluster, 'strimzi.io/kind': 'Kafka',"
                " 'strimzi.io/name': variables.cluster + '-' + variables.pool,"
                " 'strimzi.io/component-type': 'kafka', 'strimzi.io/pool-name': variables.pool,"
                " 'strimzi.io/broker-role': 'true'})]\n"
                f": request.kind.kind == 'Pod'"
                f" ? [dyn(has({o}.metadata.labels) ? {o}.metadata.labels : {{}})]\n"
                f": [dyn({template_labels})]"
            ),
            "placement": "variables.strimzi ? variables.podTemplate : variables.spec",
        }

    def _checks(self) -> dict[str, str]:
        prefixes = lits([p.rstrip("/") for p in self.risk.kube_log_dir_paths])
        required = (
            "variables.placement.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        )
        markers = [self._marker(m) for m in self.risk.risk_offheap_markers]
        return {
            # Required anti-affinity terms and DoNotSchedule spread constraints selecting the pod.
            "antiSelf": (
                f"{has_path('variables.placement', 'affinity.podAntiAffinity')} && has({required})\n"
                f"? {required}.filter(t, {self._selects_self('t')})\n"
                ": []"
            ),
            "spreadSelf": (
                "has(variables.placement.topologySpreadConstraints)\n"
                "? variables.placement.topologySpreadConstraints.filter(t, has(t.whenUnsatisfiable)"
                f" && t.whenUnsatisfiable == 'DoNotSchedule' && {self._selects_self('t')})\n"
                ": []"
            ),
            # Log dirs: the first log.dirs env var set, else the mounts under the known data paths.
            "logDirEnv": (
                f"{lits(self.risk.kube_log_dir_env)}.map(k, "
                + last_value("variables.env", "k", "es", "es.size() > 0 ? es[es.size() - 1][1] : ''")
                + ").filter(v, v.trim() != '')"
            ),
            "logDirs": (
                "variables.logDirEnv.size() > 0\n"
                "? variables.logDirEnv[0].split(',').map(d, d.trim()).filter(d, d != '')\n"
                f": variables.mounts.filter(m, {prefixes}.exists(x, {under('m[2]', 'x')})).map(m, m[0])"
            ),
            # [dir, kind of the volume mounted at its longest covering path, or 'container']
            "logDirKinds": f"variables.logDirs.map(d, [string(d), {self._storage_of('string(d)')}])",
            "lostLogDirs": f"variables.logDirKinds.filter(p, p[1] in {lits(LOST_KINDS)})",
            "offheapText": "(variables.env.map(e, e[1]) + variables.args).join(' ')",
            "offheapFound": "\n+ ".join(markers) if markers else "[]",
        }

    def _keda(self) -> dict[str, str]:
        o = "variables.o"
        floor = repr(float(self.risk.risk_keda_lag_threshold_floor))
        return {
            "where": f"'ScaledObject ' + request.namespace + '/' + string({o}.metadata.name)",
            "triggers": (
                f"{has_path(o, 'spec.triggers')} ? {o}.spec.triggers.filter(t,"
                f" has(t.type) && t.type in {lits(sorted(KAFKA_TRIGGER_TYPES))}) : []"
            ),
            "minReplicas": f"{has_path(o, 'spec.minReplicaCount')} ? {o}.spec.minReplicaCount : 0",
            "lowLag": f"variables.triggers.filter(t, {self.lag('t')} < {floor})",
            "critical": self._critical(),
            "earlyActivation": (
                "variables.minReplicas == 0"
                f" ? variables.triggers.filter(t, {self.activation('t')} < {self.lag('t')}) : []"
            ),
        }

    def _selects_self(self, term: str) -> str:
        """Return whether a placement term's labelSelector matches the pod's labels (none: all)."""
        sel = f"{term}.labelSelector"

        def present(key: str) -> str:
            return f"variables.labelMaps.exists(lm, {key} in lm)"

        def value(key: str) -> str:
            return f"variables.labelMaps.filter(lm, {key} in lm)[0][{key}]"

        within = f"{present('r.key')} && has(r.values) && {value('r.key')} in r.values"
        requirement = (
            f"r.operator == 'Exists' ? {present('r.key')}"
            f" : r.operator == 'DoesNotExist' ? !{present('r.key')}"
            f" : r.operator == 'In' ? ({within})"
            f" : r.operator == 'NotIn' ? !({within}) : false"
        )
        return (
            f"(!has({sel}) || ((!has({sel}.matchLabels)"
            f" || {sel}.matchLabels.all(k, {present('k')} && {value('k')} == {sel}.matchLabels[k]))"
            f" && (!has({sel}.matchExpressions) || {sel}.matchExpressions.all(r, {requirement}))))"
        )

    def _storage_of(self, path: str) -> str:
        """Return the kind of volume holding a path (`risk/pods.py: storage_of`)."""
        longest = "cov.filter(m, m[0].size() == cov.map(x, x[0].size()).max())[0][1]"
        kind = let(
            f"variables.volumes.filter(v, v[0] == {longest})",
            "vs",
            "vs.size() == 0 ? 'unknown' : vs[vs.size() - 1][1]",
        )
        covering = let(
            f"variables.mounts.filter(m, {under('nd', 'm[2]')})",
            "cov",
            f"cov.size() == 0 ? 'container' : {kind}",
        )
        return let(norm(path), "nd", covering)

    def _marker(self, marker: str) -> str:
        """Return [marker] when an off-heap marker is set, else [] (`risk/pods.py: offheap_markers`)."""
        if marker.startswith("-"):
            return f"(variables.offheapText.contains({lit(marker)}) ? {lits([marker])} : [])"
        enabled = f"es.size() > 0 && !(es[es.size() - 1][1].trim().lowerAscii() in {lits(FALSE_WORDS)})"
        return f"({last_value('variables.env', lit(marker), 'es', enabled)} ? {lits([marker])} : [])"

    def lag(self, trigger: str) -> str:
        """Return a trigger's lagThreshold, KEDA's default when unset."""
        return self._threshold(trigger, "lagThreshold", KEDA_DEFAULT_LAG_THRESHOLD)

    def activation(self, trigger: str) -> str:
        """Return a trigger's activationLagThreshold, KEDA's default when unset."""
        return self._threshold(trigger, "activationLagThreshold", KEDA_DEFAULT_ACTIVATION)

    def _threshold(self, trigger: str, key: str, default: float) -> str:
        value = f"{trigger}.metadata.{key}"
        return (
            f"({has_path(trigger, 'metadata.' + key)} && string({value}) != ''"
            f" ? double(string({value}).trim()) : {float(default)!r})"
        )

    def _critical(self) -> str:
        annotations, key = "variables.o.metadata.annotations", lit(self.risk.kube_critical_annotation)
        marked = (
            f"has({annotations}) && {key} in {annotations}"
            f" && {annotations}[{key}].trim().lowerAscii() in {lits(TRUE_WORDS)}"
        )
        if not self.risk.risk_critical_groups:
            return marked
        group = "(has(t.metadata) && has(t.metadata.consumerGroup) ? string(t.metadata.consumerGroup) : '')"
        pattern = lit(f"^(?:{self.risk.risk_critical_groups})$")  # re.fullmatch
        return f"{marked}\n|| variables.triggers.exists(t, {group}.matches({pattern}))"


@dataclass(frozen=True, slots=True)
class Rule:
    """One check as a policy: the resources it judges, when it fires, and lint's reason (CEL)."""

    check: Check
    resources: tuple[dict[str, Any], ...]
    fires: str
    reason: str
    #: the KafkaNodePool field the check reads: a pool without it inherits its Kafka's, unseen here
    pool_field: str = ""


def rules(cel: Cel) -> tuple[Rule, ...]:
    """Return the checks decidable from the object alone, each with its reason worded as lint's."""
    floor = f"{cel.risk.risk_keda_lag_threshold_floor:g}"
    return (
        Rule(
            LOG_DIR_EPHEMERAL,
            BROKER_RESOURCES,
            "variables.lostLogDirs.size() > 0",
            f"'log dirs ' + {sorted_joined('variables.lostLogDirs.map(p, p[0])')}\n"
            f"+ ' on ' + {lits(LOST_KINDS)}.filter(k, variables.lostLogDirs.exists(p, p[1] == k))"
            ".join(', ')\n"
            "+ ': data is lost when the pod is rescheduled'",
        ),
        Rule(
            NO_MEMORY_LIMIT,
            BROKER_RESOURCES,
            "!(has(variables.resources.limits) && 'memory' in variables.resources.limits)",
            "'container ' + variables.containerName + ' has no memory limit'",
            pool_field="resources",
        ),
        Rule(
            OFFHEAP_ENABLED,
            BROKER_RESOURCES,
            "variables.offheapFound.size() > 0",
            "'off-heap memory enabled by ' + variables.offheapFound.join(', ')",
            pool_field="jvmOptions",
        ),
        Rule(
            NO_POD_ANTI_AFFINITY,
            BROKER_RESOURCES,
            f"!variables.antiSelf.exists(t, t.topologyKey in {lits(HOST_KEYS)})",
            lit("no required pod anti-affinity between brokers: two can land on one node"),
            pool_field="template",
        ),
        Rule(
            NO_ZONE_SPREAD,
            BROKER_RESOURCES,
            f"!(variables.spreadSelf + variables.antiSelf).exists(t, t.topologyKey in {lits(ZONE_KEYS)})",
            lit(f"no topology spread constraint over {ZONE_LABEL}: brokers may share a zone"),
            pool_field="template",
        ),
        Rule(
            KEDA_LAG_THRESHOLD_LOW,
            KEDA_RESOURCES,
            "variables.lowLag.size() > 0",
            f"variables.where + ': lagThreshold ' + string({cel.lag('variables.lowLag[0]')})"
            f" + {lit(f' (floor {floor})')}",
        ),
        Rule(
            KEDA_MIN_REPLICAS_CRITICAL,
            KEDA_RESOURCES,
            "variables.critical && variables.minReplicas < 2",
            "variables.where + ': minReplicaCount ' + string(variables.minReplicas)"
            " + ' for a critical group'",
        ),
        Rule(
            KEDA_ACTIVATION_BELOW_THRESHOLD,
            KEDA_RESOURCES,
            "variables.earlyActivation.size() > 0",
            "variables.where\n"
            f"+ ': scales from zero at lag > ' + string({cel.activation('variables.earlyActivation[0]')})\n"
            f"+ ', below lagThreshold ' + string({cel.lag('variables.earlyActivation[0]')})",
        ),
    )


def defaults() -> tuple[KubeOptions, RiskOptions]:
    """Return the default settings, whatever the environment holds (the shipped files use them)."""
    return KubeOptions.model_validate({}), RiskOptions.model_validate({})


def checks() -> tuple[Check, ...]:
    """Return the checks that ship as policies, in catalogue order."""
    names = {r.check.name for r in rules(Cel(*defaults()))}
    return tuple(c for c in CHECKS if c.name in names)


def _reads(text: str, name: str) -> bool:
    token, start = f"variables.{name}", 0
    while (i := text.find(token, start)) >= 0:
        start = i + len(token)
        if start == len(text) or not (text[start].isalnum() or text[start] == "_"):
            return True
    return False


def _used(expressions: Sequence[str], variables: Mapping[str, str]) -> list[str]:
    """Return the variables the expressions read, directly or through other variables, in order."""
    needed: set[str] = set()
    pending = list(expressions)
    while pending:
        text = pending.pop()
        for name, body in variables.items():
            if name not in needed and _reads(text, name):
                needed.add(name)
                pending.append(body)
    return [name for name in variables if name in needed]


def _labels(check: Check) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "broker-lag-exporter",
        "app.kubernetes.io/part-of": "broker-lag-exporter",
        "app.kubernetes.io/component": "admission-policy",
        "broker-lag-exporter.io/check": check.name,
    }


def policy(rule: Rule, cel: Cel) -> dict[str, Any]:
    """Return the ValidatingAdmissionPolicy of one check."""
    check = rule.check
    fires = rule.fires
    if rule.pool_field:
        decided = (
            f"!variables.strimzi || request.kind.kind == 'Kafka' || has(variables.o.spec.{rule.pool_field})"
        )
        fires = f"({decided})\n&& ({fires})"
    head, tail = message(check, "\0").split("\0")
    validation = {
        "expression": Expression(f"!({fires})"),
        "messageExpression": Expression(f"{lit(head)}\n+ {rule.reason}\n+ {lit(tail)}"),
        "message": message(check, check.summary),
    }
    which = (
        {"name": "kafka-trigger", "expression": Expression(cel.kafka_triggers())}
        if rule.resources is KEDA_RESOURCES
        else {"name": "broker", "expression": Expression(cel.broker())}
    )
    variables = cel.variables()
    used = _used([validation["expression"], validation["messageExpression"]], variables)
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": policy_name(check),
            "labels": _labels(check),
            "annotations": {"broker-lag-exporter.io/docs": check.anchor},
        },
        "spec": {
            # An object the CEL cannot read (say, a lagThreshold that is no number) fails as `lint`
            # exits 2 on it; the binding's actions decide whether that warns or refuses.
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{**r, "operations": ["CREATE", "UPDATE"]} for r in rule.resources],
            },
            "matchConditions": [
                {"name": "not-opted-out", "expression": Expression(cel.not_opted_out())},
                {"name": "created-or-spec-changed", "expression": Expression(cel.spec_changed())},
                which,
            ],
            "variables": [{"name": name, "expression": Expression(variables[name])} for name in used],
            "validations": [validation],
        },
    }


def binding(check: Check, actions: Sequence[str] = WARN) -> dict[str, Any]:
    """Return the binding of one check's policy: every namespace but those opted out."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name(check), "labels": _labels(check)},
        "spec": {
            "policyName": policy_name(check),
            "validationActions": list(actions),
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": [OPT_OUT_VALUE]}
                    ]
                }
            },
        },
    }


# ---- files


class _Dumper(yaml.SafeDumper):
    """CEL as `|` blocks (no quotes to double), short lists of names inline, lines never folded."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    block = isinstance(text, Expression) or "\n" in text
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if block else None)


def _list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.SequenceNode:
    names = all(isinstance(i, str) and "\n" not in i for i in items)
    return dumper.represent_sequence(
        "tag:yaml.org,2002:seq", items, flow_style=names and len(str(items)) < 80
    )


_Dumper.add_representer(str, _str)
_Dumper.add_representer(Expression, _str)
_Dumper.add_representer(list, _list)


def dump(docs: Sequence[Mapping[str, Any]]) -> str:
    """Return YAML documents as the generated files hold them."""
    return "---\n".join(yaml.dump(d, Dumper=_Dumper, sort_keys=False, width=100_000) for d in docs)


HEADER = (
    "# Generated by `python -m bundle` from the risk-check catalogue (bundle/policies.py): do not edit.\n"
)
KUSTOMIZATION_HEADER = """\
# The risk checks `broker-lag-exporter lint` decides from one object, as ValidatingAdmissionPolicies
# (Kubernetes 1.30+). Not part of deploy/base: apply them on their own or list this directory in an
# overlay's resources. These bindings warn and audit; deploy/overlays/policies-deny refuses instead.
# docs/install.md explains the rollout, the opt-out label and other settings.
"""
DENY_HEADER = """\
# The same policies, refusing risky objects (validationActions [Deny, Audit]) instead of warning.
# Apply this once an audit with deploy/policies shows no finding you mean to keep (docs/install.md).
"""


def filename(check: Check) -> str:
    """Return the file holding one check's policy and binding."""
    return check.name.replace("_", "-") + ".yaml"


def files(kube: KubeOptions, risk: RiskOptions) -> dict[str, str]:
    """Return the files below deploy/ for these settings: policies/ and overlays/policies-deny/.

    The deny overlay is a sibling: kustomize refuses an overlay inside the directory of its base.
    """
    cel = Cel(kube, risk)
    out = {
        f"policies/{filename(r.check)}": HEADER
        + f"# {r.check.name} ({r.check.severity}): {r.check.summary}; see {r.check.anchor}\n"
        + dump([policy(r, cel), binding(r.check)])
        for r in rules(cel)
    }
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(name.removeprefix("policies/") for name in out),
    }
    deny_patch = [{"op": "replace", "path": "/spec/validationActions", "value": list(DENY)}]
    deny = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../../policies"],
        "patches": [
            {
                "target": {
                    "group": "admissionregistration.k8s.io",
                    "kind": "ValidatingAdmissionPolicyBinding",
                },
                "patch": yaml.safe_dump(deny_patch, sort_keys=False, default_flow_style=None),
            }
        ],
    }
    out["policies/kustomization.yaml"] = HEADER + KUSTOMIZATION_HEADER + dump([kustomization])
    out["overlays/policies-deny/kustomization.yaml"] = HEADER + DENY_HEADER + dump([deny])
    return out


def main(argv: Sequence[str]) -> int:
    """Write the policies for the settings `lint` would read: OUT_DIR [--config FILE] [lint flags]."""
    args = list(argv)
    config = None
    if "--config" in args[:-1]:
        i = args.index("--config")
        config = Path(args[i + 1])
        del args[i : i + 2]
    if not args or args[0].startswith("-"):
        print("usage: python -m bundle.policies OUT_DIR [--config FILE] [lint flags]", file=sys.stderr)
        return 2
    out = Path(args[0])
    try:
        settings = load(LintSettings, args[1:], config_file=config)
    except ConfigError as exc:
        print(f"bundle.policies: {exc}", file=sys.stderr)
        return 2
    for name, text in files(settings.kube, settings.risk).items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
