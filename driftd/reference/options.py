"""The YAML form of the reference build options (``driftd reference build --config``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from driftd.reference.build import BuildOptions


class BuildOptionsModel(BaseModel):
    """Validated build options; see ``BuildOptions`` for what each does.

    ``types`` maps a column to ``numeric`` (values that are not numbers count as missing, and
    the build says how many) or ``categorical`` (every value is a category), as ``--numeric``
    and ``--categorical`` do; it is how a column that is mostly but not only numbers, which the
    build refuses to guess, is built::

        reference:
          types: {amount: numeric, zip_code: categorical}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    types: dict[str, Literal["numeric", "categorical"]] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    id: str | None = None
    label: str | None = None
    prediction: str | None = None
    bins: int = Field(default=10, ge=2, le=1000)
    ks_sample_size: int = Field(default=20_000, ge=10, le=10_000_000)
    max_categories: int = Field(default=50, ge=1, le=100_000)
    seed: int = 0
    positive_label: str = "1"
    joint_sample_size: int = Field(default=10_000, ge=0, le=1_000_000)
    pca_variance: float = Field(default=0.65, gt=0.0, lt=1.0)

    def to_options(self) -> BuildOptions:
        """The plain options the builder takes."""
        return BuildOptions(
            types=dict(self.types),
            exclude=frozenset(self.exclude),
            id_column=self.id,
            label=self.label,
            prediction=self.prediction,
            bins=self.bins,
            ks_sample_size=self.ks_sample_size,
            max_categories=self.max_categories,
            seed=self.seed,
            positive_label=self.positive_label,
            joint_sample_size=self.joint_sample_size,
            pca_variance=self.pca_variance,
        )
