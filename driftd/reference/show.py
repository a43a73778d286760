"""``driftd reference show``: a readable summary of a profile."""

from __future__ import annotations

from driftd.reference.profile import Profile


def describe(profile: Profile) -> str:
    """A multi-line, human-readable summary of ``profile``."""
    lines = [
        f"profile of {profile.source}: {profile.rows:,} rows, {len(profile.features)} features, "
        f"built {profile.created_at}",
    ]
    if profile.prediction:
        lines.append(f"prediction column: {profile.prediction}")
    if profile.label:
        lines.append(f"label column: {profile.label} ({profile.task})")
    if profile.performance:
        perf = ", ".join(f"{k}={v:.4g}" for k, v in sorted(profile.performance.items()))
        lines.append(f"reference performance: {perf}")
    if profile.joint is not None:
        j = profile.joint
        lines.append(
            f"joint sample (multivariate statistics): {j.sample.shape[0]:,} rows of "
            f"{len(j.features)} numeric features, {j.components.shape[0]} principal components "
            f"({j.explained:.0%} of the variance)"
        )
    lines.append("")
    lines.append(f"{'feature':<24} {'type':<12} {'missing':>8}  summary")
    for feat in profile.features.values():
        if feat.numeric is not None:
            n = feat.numeric
            summary = (
                f"range [{n.minimum:.4g}, {n.maximum:.4g}], mean {n.mean:.4g}, "
                f"std {n.std:.4g}, {n.edges.size + 1} bins, KS sample {n.sample.size:,}"
            )
        elif feat.categorical is not None:
            c = feat.categorical
            top = ", ".join(c.domain[:5]) + (", ..." if len(c.domain) > 5 else "")
            other = int(c.counts[-1])
            summary = f"{len(c.domain)} categories ({top})"
            if other:
                summary += f", other {other:,}"
        elif feat.vector is not None:
            j = feat.vector.joint
            summary = (
                f"{feat.vector.dim} dimensions, {j.components.shape[0]} principal components "
                f"({j.explained:.0%} of the variance), sample {j.sample.shape[0]:,} rows"
            )
        else:
            summary = ""
        lines.append(f"{feat.name:<24} {feat.type:<12} {feat.missing_rate:>7.2%}  {summary}")
    return "\n".join(lines)
