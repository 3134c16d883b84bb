"""Typed configs for data, model and training: the one-way path CLI/UI -> fit() -> checkpoint.

Each config validates itself without side effects and round-trips through to_dict/from_dict,
which is how checkpoints store them as JSON.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .errors import LatentExplorerError

MoonRegime = Literal["full", "gap", "sparse"]
ModelKind = Literal["ae", "vae", "cvae", "regression"]
Condition = Literal["none", "label", "half"]
Family = Literal["mlp", "conv"]
Likelihood = Literal["bernoulli", "gaussian"]

MAX_LATENT_DIM = 128


@dataclass
class DataConfig:
    name: str = "moons"  # key of training.datasets.DATASETS
    regime: MoonRegime = "full"  # moons only: which phases the training split may hold
    jitter: bool = False  # moons only: nuisance factors (size, position) on
    image_size: int = 28  # moons and user folders: side of the square image
    n_train: int | None = None  # None: the dataset's default size
    n_test: int | None = None
    path: str | None = None  # folder / npz: where the user's data is
    data_dir: str | None = None  # mnist / fashion-mnist: download/cache directory
    seed: int = 0  # which samples are drawn and how splits are made

    def validate(self) -> None:
        from .datasets import DATASETS  # late import: datasets imports this module

        if self.name not in DATASETS:
            raise LatentExplorerError(f"unknown dataset {self.name!r}; choose one of: {', '.join(DATASETS)}")
        _check_choice("regime", self.regime, MoonRegime)
        if not 4 <= self.image_size <= 128:
            raise LatentExplorerError(f"image size must be 4 to 128 pixels, got {self.image_size}")
        for name in ("n_train", "n_test"):
            n = getattr(self, name)
            if n is not None and not 1 <= n <= 1_000_000:
                raise LatentExplorerError(f"{name} must be 1 to 1,000,000, got {n}")
        if self.name == "moons":  # the one dataset whose size the config alone decides
            from .datasets import MOONS_TEST, MOONS_TRAIN
            from .limits import check_pixel_values

            n = (self.n_train or MOONS_TRAIN) + (self.n_test or MOONS_TEST)
            check_pixel_values(n, (1, self.image_size, self.image_size), "moons")


@dataclass
class ModelConfig:
    kind: ModelKind = "vae"  # key of training.models.MODELS
    family: Family = "mlp"  # encoder/decoder bodies shared by AE and VAE
    latent_dim: int = 2
    hidden: tuple[int, ...] = (128, 64)  # mlp: widths from the image inwards
    channels: tuple[int, ...] = (32, 64)  # conv: channels of the stride-2 convolutions
    beta: float = 1.0  # weight of the KL term (beta-VAE); unused by the AE
    likelihood: Likelihood = "bernoulli"  # bernoulli: BCE on [0, 1] pixels; gaussian: MSE
    gaussian_sigma: float = 0.1  # gaussian likelihood's fixed pixel std
    in_shape: tuple[int, int, int] | None = None  # (C, H, W), filled in from the data
    condition: Condition = "none"  # cvae / regression: a one-hot label or a visible half
    n_classes: int | None = None  # label condition: filled in from the data

    def validate(self) -> None:
        from .models import FAMILIES, MODELS

        if self.kind not in MODELS:
            raise LatentExplorerError(f"unknown model {self.kind!r}; choose one of: {', '.join(MODELS)}")
        if self.family not in FAMILIES:
            raise LatentExplorerError(f"unknown architecture {self.family!r}; choose one of: {', '.join(FAMILIES)}")
        _check_choice("likelihood", self.likelihood, Likelihood)
        _check_choice("condition", self.condition, Condition)
        conditional = self.kind in ("cvae", "regression")
        if conditional and self.condition == "none":
            raise LatentExplorerError(f"a {self.kind} needs a condition: --condition label or half")
        if conditional and self.family != "mlp":
            raise LatentExplorerError("conditional models come in the mlp family only")
        if not conditional and self.condition != "none":
            raise LatentExplorerError(f"the {self.kind} takes no condition; use --model cvae")
        if self.condition == "label" and self.n_classes is not None and not 2 <= self.n_classes <= 1000:
            raise LatentExplorerError(f"label conditioning needs 2 to 1000 classes, got {self.n_classes}")
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise LatentExplorerError(f"latent size must be 1 to {MAX_LATENT_DIM}, got {self.latent_dim}")
        if not self.hidden or any(not 1 <= h <= 4096 for h in self.hidden):
            raise LatentExplorerError(f"hidden sizes must be 1 to 4096, got {self.hidden}")
        if not 0 <= self.beta <= 1000:
            raise LatentExplorerError(f"beta must be 0 to 1000, got {self.beta}")
        if not self.gaussian_sigma > 0:
            raise LatentExplorerError("gaussian_sigma must be positive")
        if self.in_shape is not None:
            c, h, w = self.in_shape
            if c not in (1, 3) or not (4 <= h <= 128 and 4 <= w <= 128):
                raise LatentExplorerError(f"images must be 1 or 3 channels, 4 to 128 px; got {self.in_shape}")
            if self.family == "conv" and (h % 4 or w % 4):
                raise LatentExplorerError(
                    f"the conv family needs sides divisible by 4 (28, 32); got {h}x{w}: use --family mlp"
                )
            from .limits import check_model

            check_model(self)  # parameters counted before anything is allocated


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0  # initial weights and batch order
    device: str = "auto"  # auto: CUDA when present, else CPU
    threads: int | None = 1  # torch CPU threads; 1 won in bench/ on small models (None: torch's default)
    kl_warmup_epochs: int = 0  # VAE: ramp the KL weight from 0 to beta over these epochs

    def validate(self) -> None:
        if not 1 <= self.epochs <= 10_000:
            raise LatentExplorerError(f"epochs must be 1 to 10,000, got {self.epochs}")
        if not 1 <= self.batch_size <= 65_536:
            raise LatentExplorerError(f"batch size must be 1 to 65,536, got {self.batch_size}")
        if not 0 < self.lr <= 10:
            raise LatentExplorerError(f"learning rate must be in (0, 10], got {self.lr}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise LatentExplorerError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.threads is not None and not 1 <= self.threads <= 256:
            raise LatentExplorerError(f"threads must be 1 to 256, got {self.threads}")
        if self.kl_warmup_epochs < 0:
            raise LatentExplorerError("kl_warmup_epochs must be >= 0")


C = TypeVar("C", DataConfig, ModelConfig, TrainConfig)


def to_dict(config: DataConfig | ModelConfig | TrainConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config from JSON; unknown keys are refused so typos do not pass silently."""
    if not isinstance(data, dict):
        raise LatentExplorerError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise LatentExplorerError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    values = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        config = cls(**values)
    except TypeError as exc:
        raise LatentExplorerError(f"bad {cls.__name__}: {exc}") from None
    return config


def _check_choice(name: str, value: object, choices: Any) -> None:
    allowed = choices.__args__
    if value not in allowed:
        raise LatentExplorerError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass
class RunConfig:
    """What one pair (or one model) is trained from: the three configs together."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        self.data.validate()
        self.model.validate()
        self.train.validate()
