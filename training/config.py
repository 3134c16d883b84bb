"""Typed configs for data, model and training: the one-way path CLI/UI -> fit() -> checkpoint.

Each config's validate() is the one check of a configuration, without side effects: ranges, every
name (dataset, regime, model, family, likelihood, condition) against its registry, and the
combinations allowed. The CLI, the train form, the server's runs and the checkpoint schema all call
it; the memory and server budgets are training.limits.check_run's. The registries are imported
inside validate(): they import this module only for annotations, so no import runs in a circle.
Configs round-trip through to_dict/from_dict, which is how checkpoints store them as JSON.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import moons
from .errors import DatasetError, LatentExplorerError
from .limits import MAX_SIDE, MIN_SIDE

# float32; bfloat16 or float16 autocast (16: CUDA only, with a grad scaler)
PRECISIONS: tuple[str, ...] = ("32", "bf16", "16")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,2})?|mps")

MAX_LATENT_DIM = 128
OBJECTIVES: tuple[str, ...] = ("elbo", "iwae")
MAX_IWAE_K = 1000  # each step decodes batch x k images
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # auto: CUDA when present, else CPU


@dataclass
class DataConfig:
    name: str = "moons"  # key of training.datasets.DATASETS
    regime: str = "full"  # moons only: key of training.moons.REGIMES
    jitter: bool = False  # moons only: nuisance factors (size, position) on
    image_size: int = 28  # moons and user folders: side of the square image
    n_train: int | None = None  # None: the dataset's default size
    n_test: int | None = None
    path: str | None = None  # folder / npz: where the user's data is
    data_dir: str | None = None  # mnist / fashion-mnist: download/cache directory
    seed: int = 0  # which samples are drawn and how splits are made

    def validate(self) -> None:
        if not MIN_SIDE <= self.image_size <= MAX_SIDE:
            raise LatentExplorerError(
                f"image size must be {MIN_SIDE} to {MAX_SIDE} pixels, got {self.image_size}",
                key="err_cfg_image_size_pixels",
                min_side=MIN_SIDE,
                max_side=MAX_SIDE,
                image_size=self.image_size,
            )
        for name in ("n_train", "n_test"):
            n = getattr(self, name)
            if n is not None and not 1 <= n <= 1_000_000:
                raise LatentExplorerError(
                    f"{name} must be 1 to 1,000,000, got {n}", key="err_cfg_count_range", name=name, n=n
                )
        from .datasets import DATASETS  # here: datasets imports this module for annotations only

        if self.name not in DATASETS:
            raise DatasetError(
                f"unknown dataset {self.name!r}; choose one of: {', '.join(DATASETS)}",
                key="err_cfg_unknown_dataset_choose",
                name=repr(self.name),
                choices=", ".join(DATASETS),
            )
        if self.regime not in moons.REGIMES:
            raise DatasetError(
                f"regime must be one of {', '.join(moons.REGIMES)}; got {self.regime!r}",
                key="err_cfg_regime",
                choices=", ".join(moons.REGIMES),
                regime=repr(self.regime),
            )


@dataclass
class ModelConfig:
    kind: str = "vae"  # key of training.models.MODELS
    family: str = "mlp"  # key of training.models.FAMILIES: encoder/decoder bodies shared by AE and VAE
    latent_dim: int = 2
    hidden: tuple[int, ...] = (128, 64)  # mlp: widths from the image inwards
    channels: tuple[int, ...] = (32, 64)  # conv: channels of the stride-2 convolutions
    beta: float = 1.0  # weight of the KL term (beta-VAE); unused by the AE
    likelihood: str = (
        "bernoulli"  # key of training.losses.LIKELIHOODS: bernoulli (BCE), gaussian (MSE), continuous-bernoulli
    )
    gaussian_sigma: float = 0.1  # gaussian likelihood's fixed pixel std
    in_shape: tuple[int, int, int] | None = None  # (C, H, W), filled in from the data
    condition: str = "none"  # cvae / regression: key of training.conditions.CONDITIONS
    n_classes: int | None = None  # label condition: filled in from the data
    posterior: str = "diag"  # vae: key of training.posteriors.POSTERIORS (diag, full, flow); old sidecars: diag

    def validate(self) -> None:
        if self.condition == "label" and self.n_classes is not None and not 2 <= self.n_classes <= 1000:
            raise LatentExplorerError(
                f"label conditioning needs 2 to 1000 classes, got {self.n_classes}",
                key="err_cfg_label_conditioning_needs",
                n_classes=self.n_classes,
            )
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise LatentExplorerError(
                f"latent size must be 1 to {MAX_LATENT_DIM}, got {self.latent_dim}",
                key="err_cfg_latent_size",
                max_latent_dim=MAX_LATENT_DIM,
                latent_dim=self.latent_dim,
            )
        if not self.hidden or any(not 1 <= h <= 4096 for h in self.hidden):
            raise LatentExplorerError(
                f"hidden sizes must be 1 to 4096, got {self.hidden}", key="err_hidden_range", got=str(self.hidden)
            )
        if not 0 <= self.beta <= 1000:
            raise LatentExplorerError(f"beta must be 0 to 1000, got {self.beta}", key="err_cfg_beta", beta=self.beta)
        if not self.gaussian_sigma > 0:
            raise LatentExplorerError("gaussian_sigma must be positive", key="err_cfg_gaussian_sigma_positive")
        if self.in_shape is not None:
            c, h, w = self.in_shape
            if c not in (1, 3) or not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
                raise LatentExplorerError(
                    f"images must be 1 or 3 channels, {MIN_SIDE} to {MAX_SIDE} px; got {self.in_shape}",
                    key="err_cfg_images_channels",
                    min_side=MIN_SIDE,
                    max_side=MAX_SIDE,
                    in_shape=self.in_shape,
                )
        self._check_names()

    def _check_names(self) -> None:
        """Every name against its registry, then the combinations of kind, family and condition, then
        what the family's layers need (conv: sides and channels)."""
        from .conditions import CONDITIONS
        from .kinds import KINDS
        from .losses import LIKELIHOODS
        from .models import FAMILIES
        from .posteriors import POSTERIORS

        for what, value, registry in (
            ("model", self.kind, KINDS),
            ("architecture", self.family, FAMILIES),
            ("likelihood", self.likelihood, LIKELIHOODS),
            ("condition", self.condition, {"none": None, **CONDITIONS}),
            ("posterior", self.posterior, POSTERIORS),
        ):
            if value not in registry:
                raise LatentExplorerError(
                    f"unknown {what} {value!r}; choose one of: {', '.join(registry)}",
                    key="err_cfg_unknown_choose",
                    what=what,
                    value=repr(value),
                    choices=", ".join(registry),
                )
        conditional = KINDS[self.kind].conditional
        if conditional and self.condition == "none":
            raise LatentExplorerError(
                f"a {self.kind} needs a condition: --condition {' or '.join(CONDITIONS)}",
                key="err_cfg_needs_condition_condition",
                kind=self.kind,
                choices=" or ".join(CONDITIONS),
            )
        if conditional and self.family != "mlp":
            raise LatentExplorerError(
                "conditional models come in the mlp family only", key="err_cfg_conditional_models_come"
            )
        if not conditional and self.condition != "none":
            raise LatentExplorerError(
                f"the {self.kind} takes no condition; use --model cvae",
                key="err_cfg_takes_condition_model",
                kind=self.kind,
            )
        if self.posterior != "diag" and self.kind != "vae":
            raise LatentExplorerError(
                f"--posterior {self.posterior} is for the VAE; the {self.kind} has a diagonal one or none",
                key="err_cfg_posterior_vae_only",
                posterior=self.posterior,
                kind=self.kind,
            )
        check = FAMILIES[self.family].check
        if check is not None:
            check(self)


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0  # initial weights and batch order
    device: str = "auto"  # one of DEVICES; fit() records the one it resolved to (e.g. cuda:0)
    precision: str = "32"  # one of PRECISIONS; weights and checkpoints stay float32 whatever this is
    world_size: int = 1  # processes that trained it (torchrun), filled in by fit()
    threads: int | None = 1  # torch CPU threads; 1 won in bench/ on small models (None: torch's default)
    kl_warmup_epochs: int = 0  # VAE: ramp the KL weight from 0 to beta over these epochs
    objective: str = "elbo"  # VAE: one of OBJECTIVES; iwae: Burda et al. (2015)'s bound with iwae_k draws
    iwae_k: int = 50  # importance samples per image under objective iwae (k = 1 is the ELBO)

    def validate(self) -> None:
        if not 1 <= self.epochs <= 10_000:
            raise LatentExplorerError(
                f"epochs must be 1 to 10,000, got {self.epochs}", key="err_cfg_epochs", epochs=self.epochs
            )
        if not 1 <= self.batch_size <= 65_536:
            raise LatentExplorerError(
                f"batch size must be 1 to 65,536, got {self.batch_size}",
                key="err_cfg_batch_size",
                batch_size=self.batch_size,
            )
        if not 0 < self.lr <= 10:
            raise LatentExplorerError(
                f"learning rate must be in (0, 10], got {self.lr}", key="err_cfg_learning_rate", lr=self.lr
            )
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise LatentExplorerError(
                f"device must be one of {', '.join(DEVICES)}; got {self.device!r}",
                key="err_cfg_device",
                choices=", ".join(DEVICES),
                device=repr(self.device),
            )
        if self.precision not in PRECISIONS:
            raise LatentExplorerError(
                f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}",
                key="err_cfg_precision",
                choices=", ".join(PRECISIONS),
                precision=repr(self.precision),
            )
        if not 1 <= self.world_size <= 65_536:
            raise LatentExplorerError(
                f"world size must be 1 to 65,536, got {self.world_size}",
                key="err_cfg_world_size",
                world_size=self.world_size,
            )
        if self.threads is not None and not 1 <= self.threads <= 256:
            raise LatentExplorerError(
                f"threads must be 1 to 256, got {self.threads}", key="err_cfg_threads", threads=self.threads
            )
        if self.kl_warmup_epochs < 0:
            raise LatentExplorerError("kl_warmup_epochs must be >= 0", key="err_cfg_warmup_epochs")
        self._check_objective()

    def _check_objective(self) -> None:
        if self.objective not in OBJECTIVES:
            raise LatentExplorerError(
                f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}",
                key="err_cfg_objective",
                choices=", ".join(OBJECTIVES),
                objective=repr(self.objective),
            )
        if not 1 <= self.iwae_k <= MAX_IWAE_K:
            raise LatentExplorerError(
                f"k (IWAE draws per image) must be 1 to {MAX_IWAE_K}, got {self.iwae_k}",
                key="err_cfg_iwae_k",
                most=MAX_IWAE_K,
                k=self.iwae_k,
            )


C = TypeVar("C", DataConfig, ModelConfig, TrainConfig)


def to_dict(config: DataConfig | ModelConfig | TrainConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config from JSON; unknown keys are refused so typos do not pass silently."""
    if not isinstance(data, dict):
        raise LatentExplorerError(
            f"{cls.__name__} must be a JSON object, got {type(data).__name__}",
            key="err_cfg_json_object",
            what=cls.__name__,
            type=type(data).__name__,
        )
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise LatentExplorerError(
            f"{cls.__name__} has no field(s) {sorted(unknown)}",
            key="err_cfg_field",
            what=cls.__name__,
            unknown=sorted(unknown),
        )
    values = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        config = cls(**values)
    except TypeError as exc:
        raise LatentExplorerError(
            f"bad {cls.__name__}: {exc}", key="err_cfg_bad", what=cls.__name__, error=exc
        ) from None
    return config


@dataclass
class RunConfig:
    """What one pair (or one model) is trained from: the three configs together."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """Every range, name and combination of the run; training.limits.check_run adds the budgets."""
        self.data.validate()
        self.model.validate()
        self.train.validate()
        if self.train.objective == "iwae":
            if self.model.kind == "cvae":
                raise LatentExplorerError("the IWAE objective is for the VAE", key="err_cfg_iwae_vae_only")
            if self.model.kind == "vae" and (self.model.beta != 1 or self.train.kl_warmup_epochs):
                raise LatentExplorerError(
                    "the IWAE objective bounds log p(x) only at beta 1 without KL warm-up; drop --beta / --kl-warmup",
                    key="err_cfg_iwae_beta",
                )


@dataclass
class LabConfig:
    """The half-moon lab (training/lab.py): a grid of moons pairs per regime, latent size and seed."""

    regimes: tuple[str, ...] = tuple(moons.REGIMES)
    latent_dims: tuple[int, ...] = (1, 2, 16)
    seeds: int = 5
    epochs: int = 40
    n_train: int = moons.N_TRAIN
    n_test: int = moons.N_TEST
    image_size: int = moons.DEFAULT_SIZE
    hidden: tuple[int, ...] = (128, 64)
    steps: int = 101  # decoded images per interpolation: 11 steps skip sharp transitions
    random_pairs: int = 20
    prior_samples: int = 1000
    search_codes: int = 10_000  # codes filling the latent box in the decoder-wide half-moon search
    headline: tuple[str, ...] = ("gap-2", "sparse-2")  # regime-latent cells run with headline_seeds: with
    # 5 paired seeds an exact two-sided sign-flip test cannot go below p = 0.0625, so nothing is decided at 5 %
    headline_seeds: int = 10

    def seeds_for(self, regime: str, latent_dim: int) -> int:
        return max(self.seeds, self.headline_seeds) if f"{regime}-{latent_dim}" in self.headline else self.seeds

    def pair_config(self, regime: str, latent_dim: int, seed: int) -> RunConfig:
        """One cell of the grid: a moons pair. The input shape is the rendered moons' (grey, image_size)."""
        return RunConfig(
            DataConfig(
                "moons", regime=regime, image_size=self.image_size, n_train=self.n_train, n_test=self.n_test, seed=seed
            ),
            ModelConfig(latent_dim=latent_dim, hidden=self.hidden, in_shape=(1, self.image_size, self.image_size)),
            TrainConfig(epochs=self.epochs, seed=seed),
        )

    def validate(self) -> None:
        """The grid's own ranges, then every cell's run (the seed does not change what is valid)."""
        if not self.regimes or any(r not in moons.REGIMES for r in self.regimes):
            raise LatentExplorerError(
                f"regimes must be among {', '.join(moons.REGIMES)}; got {','.join(self.regimes)!r}",
                key="err_cfg_regimes_among",
                choices=", ".join(moons.REGIMES),
                got=repr(",".join(self.regimes)),
            )
        if not 1 <= self.seeds <= 20:
            raise LatentExplorerError("seeds must be 1 to 20", key="err_cfg_seeds")
        if not 1 <= self.headline_seeds <= 20:
            raise LatentExplorerError("headline seeds must be 1 to 20", key="err_cfg_headline_seeds")
        if not self.latent_dims:
            raise LatentExplorerError("the lab needs at least one latent size", key="err_cfg_lab_needs_least")
        for cell in self.headline:  # a cell outside this grid is simply not run; a malformed one is a typo
            regime, _, dim = cell.rpartition("-")
            if regime not in moons.REGIMES or not dim.isdigit():
                raise LatentExplorerError(
                    f"headline cells are regime-latent, such as sparse-2; got {cell!r}",
                    key="err_cfg_headline_cells_regime",
                    cell=repr(cell),
                )
        for regime in self.regimes:
            for latent_dim in self.latent_dims:
                self.pair_config(regime, latent_dim, 0).validate()


MAX_BETAS = 16  # a sweep's beta values
MAX_SEEDS = 20


@dataclass
class SweepConfig:
    """A sweep: one VAE per beta and seed, every other setting shared (the bundled digits-8d's by default)."""

    betas: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    seeds: int = 3  # seeds 0 .. seeds-1: each seeds the data split, the initial weights and the batch order
    dataset: str = "digits"  # key of training.datasets.DATASETS (not one that needs --data)
    regime: str = "full"  # moons only
    latent_dim: int = 8
    hidden: tuple[int, ...] = (128, 64)
    epochs: int = 150
    batch_size: int = 64
    lr: float = 1e-3
    n_train: int | None = None  # None: the dataset's default size

    def run_config(self, beta: float, seed: int) -> RunConfig:
        return RunConfig(
            DataConfig(self.dataset, regime=self.regime, n_train=self.n_train, seed=seed),
            ModelConfig(latent_dim=self.latent_dim, hidden=self.hidden, beta=beta),
            TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed),
        )

    def validate(self) -> None:
        """The sweep's own ranges, then one run's (beta and seed do not change what else is valid)."""
        from .datasets import DATASETS  # here: datasets imports this module for annotations only

        n, betas = len(self.betas), ",".join(f"{b:g}" for b in self.betas)
        if not 1 <= n <= MAX_BETAS:
            raise LatentExplorerError(
                f"--beta takes 1 to {MAX_BETAS} values, got {n}", key="err_sweep_betas_count", most=MAX_BETAS, n=n
            )
        if len(set(self.betas)) != n:
            raise LatentExplorerError(
                f"--beta values must differ, got {betas}", key="err_sweep_betas_repeat", betas=betas
            )
        for beta in self.betas:
            if not (math.isfinite(beta) and 0 < beta <= 1000):
                raise LatentExplorerError(
                    f"each beta must be above 0 and at most 1000, got {beta:g}", key="err_sweep_beta_range", beta=beta
                )
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise LatentExplorerError(
                f"--seeds must be 1 to {MAX_SEEDS}, got {self.seeds}",
                key="err_sweep_seeds",
                most=MAX_SEEDS,
                seeds=self.seeds,
            )
        spec = DATASETS.get(self.dataset)
        if spec is not None and spec.needs_path:
            raise LatentExplorerError(
                f"the sweep trains on a named dataset, not {self.dataset!r} (it needs --data)",
                key="err_sweep_dataset_path",
                dataset=repr(self.dataset),
            )
        for beta in self.betas:
            self.run_config(beta, 0).validate()
