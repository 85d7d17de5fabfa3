"""The one ordered registry of labs and their panels.

It is plain data (import paths, not imports), so ``main.py list`` and the engine-side of the CLI
read it without loading Qt; the navigator, the CLI and the smoke tests all iterate it.  A lab is
listed here only once it works end to end (engine lab, panel, tests).
"""
from __future__ import annotations

import dataclasses
import importlib

#: Book chapters, for the navigator's headings.
CHAPTERS = {
    1: "Linear algebra", 2: "Vector calculus", 3: "Probability and statistics",
    4: "Optimization", 5: "Graph theory", 6: "Linear neural networks",
    7: "Feedforward networks", 8: "Regularization", 9: "Convolutional networks",
    10: "Recurrent networks", 11: "Attention", 12: "Generative models",
    13: "Transfer and meta learning", 14: "Geometric deep learning",
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """A lab and the panel that shows it (``module:Class`` import paths)."""

    name: str
    chapter: int
    title: str
    lab: str
    panel: str

    def lab_class(self):
        return _load(self.lab)

    def panel_class(self):
        return _load(self.panel)


def _load(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


ENTRIES: tuple[Entry, ...] = (
    Entry("optimization", 4, "Optimizer race",
          "engine.labs.optimization:OptimizationLab",
          "mathdl_gui.panels.optimization:OptimizationPanel"),
    Entry("linear_regression", 6, "Linear regression",
          "engine.labs.linear_models:LinearRegressionLab",
          "mathdl_gui.panels.linear_models:LinearRegressionPanel"),
    Entry("polynomial", 6, "Polynomial regression",
          "engine.labs.linear_models:PolynomialLab",
          "mathdl_gui.panels.linear_models:PolynomialPanel"),
    Entry("logistic", 6, "Logistic & softmax regression",
          "engine.labs.linear_models:LogisticLab",
          "mathdl_gui.panels.linear_models:LogisticPanel"),
    Entry("perceptron", 7, "Perceptron & logic gates",
          "engine.labs.neurons:PerceptronLab", "mathdl_gui.panels.neurons:PerceptronPanel"),
    Entry("activations", 7, "Activation & loss gallery",
          "engine.labs.neurons:ActivationsLab", "mathdl_gui.panels.neurons:ActivationsPanel"),
    Entry("datasets", 7, "Datasets & splits", "engine.labs.datasets:DatasetsLab",
          "mathdl_gui.panels.datasets:DatasetsPanel"),
    Entry("network", 7, "Neural network playground",
          "engine.labs.network:NetworkLab",
          "mathdl_gui.panels.network:NetworkPanel"),
    Entry("backprop", 7, "Backpropagation, step by step", "engine.labs.backprop:BackpropLab",
          "mathdl_gui.panels.backprop:BackpropPanel"),
    Entry("regularization", 8, "Regularization lab",
          "engine.labs.regularization:RegularizationLab",
          "mathdl_gui.panels.regularization:RegularizationPanel"),
    Entry("architectures", 9, "Architecture calculator",
          "engine.labs.architectures:ArchitectureLab",
          "mathdl_gui.panels.architectures:ArchitecturePanel"),
    Entry("conv_explorer", 9, "Convolution explorer",
          "engine.labs.conv_explorer:ConvExplorerLab",
          "mathdl_gui.panels.conv_explorer:ConvExplorerPanel"),
    Entry("cnn", 9, "CNN on handwritten digits",
          "engine.labs.cnn:CNNLab", "mathdl_gui.panels.cnn:CNNPanel"),
    Entry("recurrent", 10, "Recurrent networks: gates over time",
          "engine.labs.recurrent:RecurrentLab", "mathdl_gui.panels.recurrent:RecurrentPanel"),
    Entry("transformer", 11, "Transformer: attention heads",
          "engine.labs.transformer:TransformerLab",
          "mathdl_gui.panels.transformer:TransformerPanel"),
    Entry("attention_types", 11, "Types of attention",
          "engine.labs.attention_types:AttentionTypesLab",
          "mathdl_gui.panels.attention_types:AttentionTypesPanel"),
    Entry("ntm", 11, "Neural Turing machine",
          "engine.labs.ntm:NTMLab", "mathdl_gui.panels.ntm:NTMPanel"),
    Entry("flow", 12, "Normalizing flow (RealNVP)",
          "engine.labs.flow:FlowLab", "mathdl_gui.panels.flow:FlowPanel"),
    Entry("autoencoder", 12, "Autoencoders and the VAE latent space",
          "engine.labs.autoencoder:AutoencoderLab",
          "mathdl_gui.panels.autoencoder:AutoencoderPanel"),
    Entry("image_gan", 12, "GAN on handwritten digits",
          "engine.labs.image_gan:ImageGANLab", "mathdl_gui.panels.image_gan:ImageGANPanel"),
    Entry("divergences", 12, "KL, JS and Wasserstein",
          "engine.labs.divergences:DivergenceLab",
          "mathdl_gui.panels.divergences:DivergencePanel"),
    Entry("gan", 12, "GAN and WGAN in 2-D", "engine.labs.gan:GANLab",
          "mathdl_gui.panels.gan:GANPanel"),
)

DEFAULT = "optimization"


def names() -> list[str]:
    return [e.name for e in ENTRIES]


def get(name: str) -> Entry:
    """The entry called ``name``; ``ValueError`` listing the valid names otherwise."""
    for e in ENTRIES:
        if e.name == name:
            return e
    raise ValueError(f"unknown lab {name!r}; available labs: {', '.join(names())}")
