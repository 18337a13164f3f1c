"""The control catalogue: every framework the rules map to, its edition, and a title per control.

One place for what a control id means, read by every report format (the packs do not need it: a
rule's tags carry only ``control:<framework>:<id>``). Titles are the control's own heading in the
edition named; where a framework has no headings (SOC 2 criteria, NIST AI RMF subcategories) the
title is the criterion's opening statement, shortened, and the framework says so in ``note``.

``targets`` names the deployment targets a framework can judge: a CIS Docker control says nothing
about a Kubernetes environment, so the reports show it there as not applicable, never as a pass.
Pulumi-free and import-free, like :mod:`mlops_platform.vocabulary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ALL_TARGETS: Final = ("kubernetes", "docker")
COVERAGE_TAG: Final = "coverage"
"""Tag prefix of a mapping's coverage: ``coverage:<full|partial>:<framework>:<control>``."""


class Coverage(StrEnum):
    """How much of a control one rule evidences.

    ``full``: over the resources the environment declares, the rule checks what the control's own
    text asks of a configuration. ``partial``: it checks one part; the mapping says what is missing.
    A control passes only when a rule covering it fully was judged and passed.
    """

    FULL = "full"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class ControlMapping:
    """One rule -> control mapping, kept with the rule's declaration."""

    control: str
    """``<framework>:<control-id>``."""
    coverage: Coverage
    rationale: str
    """One line: what the rule shows about the control."""
    missing: str = ""
    """For partial coverage, one line: what the control also asks that the rule does not check."""

    def __post_init__(self) -> None:
        if (self.coverage is Coverage.PARTIAL) != bool(self.missing):
            raise ValueError(f"{self.control}: a partial mapping (only) says what is missing")

    @property
    def framework(self) -> str:
        return self.control.split(":", 1)[0]

    @property
    def tag(self) -> str:
        return f"{COVERAGE_TAG}:{self.coverage}:{self.control}"


def full(control: str, *, rationale: str) -> ControlMapping:
    """The rule checks what ``control`` asks of a declared configuration."""
    return ControlMapping(control, Coverage.FULL, rationale)


def partial(control: str, *, rationale: str, missing: str) -> ControlMapping:
    """The rule checks part of ``control``; ``missing`` says what else the control asks."""
    return ControlMapping(control, Coverage.PARTIAL, rationale, missing)


def coverage_of(tags: tuple[str, ...] | list[str]) -> dict[str, Coverage]:
    """``{<framework>:<control>: coverage}`` from a policy's tags (controls without one: absent)."""
    out: dict[str, Coverage] = {}
    for tag in tags:
        prefix, _, rest = tag.partition(":")
        level, _, control = rest.partition(":")
        if prefix == COVERAGE_TAG and level in {c.value for c in Coverage} and control:
            out[control] = Coverage(level)
    return out


@dataclass(frozen=True, slots=True)
class FrameworkEdition:
    """A compliance framework as the reports name it."""

    id: str
    """Slug used in rule tags (``control:<id>:<control>``)."""
    name: str
    version: str
    source: str
    """The publication the titles were taken from."""
    targets: tuple[str, ...] = ALL_TARGETS
    note: str = ""
    required_for_risk: tuple[str, ...] = ()
    """Model risk tiers the framework's controls must apply to: for an environment serving such a
    model, a mapped control that no check judged is a finding, never "not applicable"."""


FRAMEWORKS: Final[dict[str, FrameworkEdition]] = {
    f.id: f
    for f in (
        FrameworkEdition(
            "cis-kubernetes",
            "CIS Kubernetes Benchmark",
            "1.9.0",
            "CIS Kubernetes Benchmark v1.9.0 (2024), section 5 Policies",
            targets=("kubernetes",),
        ),
        FrameworkEdition(
            "cis-docker",
            "CIS Docker Benchmark",
            "1.6.0",
            "CIS Docker Benchmark v1.6.0 (2023), sections 4 and 5",
            targets=("docker",),
        ),
        FrameworkEdition(
            "nist-800-53",
            "NIST SP 800-53",
            "Rev. 5",
            "NIST SP 800-53 Rev. 5, Security and Privacy Controls for Information Systems and "
            "Organizations (2020, updated 2023)",
        ),
        FrameworkEdition(
            "iso-27001",
            "ISO/IEC 27001:2022 Annex A",
            "2022",
            "ISO/IEC 27001:2022, Annex A (information security controls reference, from ISO/IEC 27002:2022)",
        ),
        FrameworkEdition(
            "soc2",
            "SOC 2 Trust Services Criteria",
            "2017 (rev. 2022)",
            "AICPA TSP section 100, 2017 Trust Services Criteria (revised points of focus, 2022)",
            note="Criteria have no headings: titles are each criterion's statement, shortened.",
        ),
        FrameworkEdition(
            "eu-ai-act",
            "EU AI Act (Regulation (EU) 2024/1689)",
            "2024",
            "Regulation (EU) 2024/1689 (Artificial Intelligence Act), OJ L, 12.7.2024",
            # Chapter III Section 2 (Art. 8-15) and Art. 17 and 72 bind providers of high-risk systems.
            required_for_risk=("high",),
        ),
        FrameworkEdition(
            "nist-ai-rmf",
            "NIST AI Risk Management Framework",
            "1.0",
            "NIST AI 100-1, Artificial Intelligence Risk Management Framework (AI RMF 1.0), January 2023",
            note="Subcategories have no headings: titles are each subcategory's statement, shortened.",
        ),
    )
}

CONTROL_TITLES: Final[dict[str, dict[str, str]]] = {
    "cis-kubernetes": {
        "5.1.6": "Ensure that Service Account Tokens are only mounted where necessary",
        "5.2.2": "Minimize the admission of privileged containers",
        "5.2.3": "Minimize the admission of containers wishing to share the host process ID namespace",
        "5.2.4": "Minimize the admission of containers wishing to share the host IPC namespace",
        "5.2.5": "Minimize the admission of containers wishing to share the host network namespace",
        "5.2.6": "Minimize the admission of containers with allowPrivilegeEscalation",
        "5.2.7": "Minimize the admission of root containers",
        "5.2.9": "Minimize the admission of containers with added capabilities",
        "5.2.10": "Minimize the admission of containers with capabilities assigned",
        "5.2.12": "Minimize the admission of HostPath volumes",
        "5.2.13": "Minimize the admission of containers which use HostPorts",
        "5.3.2": "Ensure that all Namespaces have Network Policies defined",
        "5.4.1": "Prefer using Secrets as files over Secrets as environment variables",
        "5.5.1": "Configure Image Provenance using ImagePolicyWebhook admission controller",
        "5.7.2": "Ensure that the seccomp profile is set to docker/default in your Pod definitions",
        "5.7.3": "Apply SecurityContext to your Pods and Containers",
        "5.7.4": "The default namespace should not be used",
    },
    "cis-docker": {
        "4.1": "Ensure that a user for the container has been created",
        "4.2": "Ensure that containers use only trusted base images",
        "4.10": "Ensure secrets are not stored in Dockerfiles",
        "5.4": "Ensure that Linux kernel capabilities are restricted within containers",
        "5.5": "Ensure that privileged containers are not used",
        "5.6": "Ensure sensitive host system directories are not mounted on containers",
        "5.10": "Ensure that the host's network namespace is not shared",
        "5.11": "Ensure that the memory usage for containers is limited",
        "5.12": "Ensure that CPU priority is set appropriately on containers",
        "5.13": "Ensure that the container's root filesystem is mounted as read only",
        "5.14": "Ensure that incoming container traffic is bound to a specific host interface",
        "5.15": "Ensure that the 'on-failure' container restart policy is set to '5'",
        "5.16": "Ensure that the host's process namespace is not shared",
        "5.17": "Ensure that the host's IPC namespace is not shared",
        "5.22": "Ensure the default seccomp profile is not Disabled",
        "5.26": "Ensure that the container is restricted from acquiring additional privileges",
        "5.27": "Ensure that container health is checked at runtime",
        "5.28": "Ensure that Docker commands always make use of the latest version of their image",
        "5.30": "Ensure that Docker's default bridge 'docker0' is not used",
        "5.32": "Ensure that the Docker socket is not mounted inside any containers",
    },
    "nist-800-53": {
        "AC-4": "Information Flow Enforcement",
        "AC-6": "Least Privilege",
        "AC-6(2)": "Least Privilege | Non-privileged Access for Nonsecurity Functions",
        "AC-6(10)": "Least Privilege | Prohibit Non-privileged Users from Executing Privileged Functions",
        "CA-6": "Authorization",
        "CA-7": "Continuous Monitoring",
        "CM-2": "Baseline Configuration",
        "CM-3": "Configuration Change Control",
        "CM-7": "Least Functionality",
        "CM-7(5)": "Least Functionality | Authorized Software — Allow-by-exception",
        "CM-8": "System Component Inventory",
        "SA-11": "Developer Testing and Evaluation",
        "CM-14": "Signed Components",
        "CP-2(2)": "Contingency Plan | Capacity Planning",
        "CP-9": "System Backup",
        "CP-10": "System Recovery and Reconstitution",
        "IA-5(7)": "Authenticator Management | No Embedded Unencrypted Static Authenticators",
        "RA-2": "Security Categorization",
        "SC-2": "Separation of System and User Functionality",
        "SC-5": "Denial-of-service Protection",
        "SC-6": "Resource Availability",
        "SC-7": "Boundary Protection",
        "SC-8": "Transmission Confidentiality and Integrity",
        "SC-28": "Protection of Information at Rest",
        "SC-39": "Process Isolation",
        "SI-4": "System Monitoring",
        "SI-7": "Software, Firmware, and Information Integrity",
        "SI-7(15)": "Software, Firmware, and Information Integrity | Code Authentication",
        "SR-3": "Supply Chain Controls and Processes",
    },
    "iso-27001": {
        "A.5.8": "Information security in project management",
        "A.5.9": "Inventory of information and other associated assets",
        "A.5.12": "Classification of information",
        "A.5.17": "Authentication information",
        "A.8.2": "Privileged access rights",
        "A.8.3": "Information access restriction",
        "A.8.5": "Secure authentication",
        "A.8.6": "Capacity management",
        "A.8.9": "Configuration management",
        "A.8.13": "Information backup",
        "A.8.14": "Redundancy of information processing facilities",
        "A.8.16": "Monitoring activities",
        "A.8.18": "Use of privileged utility programs",
        "A.8.19": "Installation of software on operational systems",
        "A.8.20": "Networks security",
        "A.8.22": "Segregation of networks",
        "A.8.24": "Use of cryptography",
        "A.8.32": "Change management",
    },
    "soc2": {
        "CC2.1": "Obtains or generates and uses relevant, quality information to support internal control",
        "CC6.1": "Logical access security over protected information assets",
        "CC6.6": "Logical access security against threats from outside the system boundaries",
        "CC6.7": "Transmission, movement and removal of information restricted and protected",
        "CC6.8": "Prevent or detect and act upon unauthorized or malicious software",
        "CC7.2": "System components monitored for anomalies: malicious acts, disasters, errors",
        "CC8.1": "Changes to infrastructure, data, software and procedures authorized and approved",
        "A1.1": "Processing capacity and use of system components are maintained, monitored and evaluated",
        "A1.2": "Environmental protections, software, data backup processes and recovery infrastructure",
        "C1.1": "Confidential information is identified and maintained to meet confidentiality objectives",
    },
    "eu-ai-act": {
        "Art.9": "Risk management system",
        "Art.10": "Data and data governance",
        "Art.11": "Technical documentation",
        "Art.12": "Record-keeping",
        "Art.13": "Transparency and provision of information to deployers",
        "Art.14": "Human oversight",
        "Art.15": "Accuracy, robustness and cybersecurity",
        "Art.17": "Quality management system",
        "Art.72": "Post-market monitoring by providers and plan for high-risk AI systems",
    },
    "nist-ai-rmf": {
        "GOVERN-1.4": "Risk management process and outcomes established through transparent policies",
        "GOVERN-1.6": "Mechanisms are in place to inventory AI systems",
        "GOVERN-2.1": "Roles, responsibilities and communication lines for AI risks documented",
        "MAP-1.1": "Intended purposes, context and deployment settings understood and documented",
        "MAP-3.5": "Processes for human oversight are defined, assessed and documented",
        "MAP-4.1": "Approaches for mapping AI technology and legal risks of its components are in place",
        "MEASURE-2.1": "Test sets, metrics and details about the tools used during TEVV are documented",
        "MEASURE-2.3": "Performance or assurance criteria are measured and demonstrated for conditions "
        "similar to deployment",
        "MEASURE-2.4": "The functionality and behavior of the AI system are monitored when in production",
        "MEASURE-2.5": "The AI system to be deployed is demonstrated to be valid and reliable",
        "MEASURE-2.9": "The AI model is explained, validated and documented; its output is interpreted in "
        "its context",
        "MANAGE-1.1": "It is determined whether the AI system achieves its intended purposes and whether "
        "its deployment should proceed",
        "MANAGE-1.3": "Responses to the AI risks deemed high priority are developed, planned and documented",
        "MANAGE-2.4": "Mechanisms are in place to supersede, disengage or deactivate AI systems whose "
        "outcomes are inconsistent with intended use",
        "MANAGE-4.1": "Post-deployment AI system monitoring plans are implemented",
    },
}


def control_title(framework: str, control: str) -> str:
    """The title of ``control`` in ``framework``; empty for a control the catalogue does not know."""
    return CONTROL_TITLES.get(framework, {}).get(control, "")


def applies_to(framework: str, target: str) -> bool:
    """Whether ``framework`` can judge an environment deployed to ``target`` (unknown ones: yes).

    ``target`` may name several (``docker+kubernetes``: a program deploying to both): any one counts.
    """
    edition = FRAMEWORKS.get(framework)
    return edition is None or not target or any(part in edition.targets for part in target.split("+"))


def required_for(framework: str, risk_tiers: set[str]) -> tuple[str, ...]:
    """The risk tiers among ``risk_tiers`` whose models ``framework``'s controls must apply to."""
    edition = FRAMEWORKS.get(framework)
    return tuple(t for t in edition.required_for_risk if t in risk_tiers) if edition else ()


def natural_key(text: str) -> tuple[str | int, ...]:
    """Sort key that orders control ids as people do: 5.2 < 5.10, AC-6 < AC-6(2) < AC-17."""
    # re.split with a group alternates text and digits, always starting with text: types line up.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", text)))
