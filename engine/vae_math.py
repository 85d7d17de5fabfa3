r"""The mathematics of autoencoders, denoising autoencoders and VAEs (book 12.2-12.4).

* :func:`corrupt` - the noise a denoising autoencoder must undo, :math:`\tilde x \sim
  q(\tilde x \mid x)`;
* :func:`reconstruction_mse` - the autoencoder loss
  :math:`L = \frac1n\sum_i \lVert x_i - g_\phi(f_\theta(x_i))\rVert^2` *with* the square the
  book leaves out (erratum E9), averaged over pixels too, so it reads as a per-pixel error;
* :func:`reparameterize` - :math:`z = \mu + \sigma \odot \epsilon`, the trick that lets the
  gradient reach :math:`\mu` and :math:`\log\sigma^2` through a random sample;
* :func:`kl_std_normal` - :math:`KL(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,
  \mathcal N(0, I))` in closed form, one number per sample;
* :func:`vae_loss` - the negative ELBO with a weight :math:`\beta` on the KL term;
* :func:`nearest_centroid_accuracy` - how well the latent codes separate the classes.

Every function takes NumPy or CuPy data (arrays or :class:`~engine.autodiff.Tensor`) and
returns the same kind; random numbers come from a ``numpy.random.Generator`` so a run is
reproducible on either backend.
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.autodiff import Tensor
from engine.nn import functional as F

#: Corruption kinds of :func:`corrupt`.
CORRUPTIONS = ("gaussian", "masking", "salt_pepper")


def _noise(rng: np.random.Generator, shape, like):
    """Standard-normal draws shaped ``shape`` on the backend and dtype of array ``like``.

    Drawn on the host from ``rng`` (so NumPy and CuPy runs see the same numbers) and moved
    once; at these sizes the copy is far cheaper than the step it feeds.
    """
    xp = backend.xp_of(like)
    return xp.asarray(rng.standard_normal(shape).astype(like.dtype, copy=False))


def corrupt(x, kind: str, level: float, rng: np.random.Generator):
    r"""Corrupt images for a denoising autoencoder (book 12.3).

    Parameters
    ----------
    x : ndarray (NumPy or CuPy), any shape, values in [0, 1]
        Clean inputs.
    kind : {'gaussian', 'masking', 'salt_pepper'}
        ``gaussian``: :math:`\tilde x = x + \sigma\epsilon`, :math:`\epsilon \sim \mathcal
        N(0, I)` with :math:`\sigma` = ``level`` (the book's :math:`\tilde x \sim \mathcal
        N(x, \sigma^2 I)`; not clipped, so the noise is exactly Gaussian).
        ``masking``: each pixel is set to 0 with probability ``level``.
        ``salt_pepper``: each pixel is replaced, with probability ``level``, by 0 or 1 (even
        odds).
    level : float, >= 0 (<= 1 for masking and salt_pepper)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray like ``x``
        A new array; ``x`` is not modified.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption kind must be one of {', '.join(CORRUPTIONS)}, "
                         f"got {kind!r}")
    level = float(level)
    if not np.isfinite(level) or level < 0 or (kind != "gaussian" and level > 1):
        top = "any number >= 0" if kind == "gaussian" else "a probability in [0, 1]"
        raise ValueError(f"{kind} corruption level must be {top}, got {level!r}")
    xp = backend.xp_of(x)
    if kind == "gaussian":
        return x + level * _noise(rng, x.shape, x)
    hit = xp.asarray(rng.random(x.shape) < level)
    if kind == "masking":
        return xp.where(hit, xp.zeros_like(x), x)
    salt = xp.asarray(rng.random(x.shape) < 0.5).astype(x.dtype)
    return xp.where(hit, salt, x)


def reconstruction_mse(x, x_hat):
    r"""Autoencoder loss :math:`\frac{1}{nD}\sum_i \lVert x_i - \hat x_i\rVert^2`.

    The book's formula has no square (erratum E9), which makes positive and negative errors
    cancel: for :math:`x = (1, 2)`, :math:`\hat x = (1.5, 1.5)` it gives 0 while the squared
    error is :math:`(0.25 + 0.25)/2 = 0.25`.  Averaging over the :math:`D` pixels as well as the
    :math:`n` samples keeps the number comparable across image sizes.

    Parameters
    ----------
    x, x_hat : Tensor or ndarray, same shape

    Returns
    -------
    Tensor, scalar
    """
    return F.mse_loss(x_hat, x)


def _as_tensor(a):
    return a if isinstance(a, Tensor) else Tensor(a)


def reparameterize(mu, logvar, rng: np.random.Generator, eps=None):
    r"""Sample :math:`z \sim \mathcal N(\mu, \mathrm{diag}\,\sigma^2)` so gradients flow.

    .. math:: z = \mu + \sigma \odot \epsilon, \qquad \sigma = e^{\frac12 \log\sigma^2},
              \qquad \epsilon \sim \mathcal N(0, I)

    The randomness lives in :math:`\epsilon`, which does not depend on the encoder, so
    :math:`\partial z / \partial \mu = 1` and :math:`\partial z / \partial \log\sigma^2 =
    \tfrac12 \sigma \epsilon` are ordinary derivatives.  Sampling :math:`z` directly would
    leave no path for backpropagation (the book only says "backprop through the
    distribution's parameters").

    Parameters
    ----------
    mu, logvar : Tensor or ndarray, shape (N, d)
    rng : numpy.random.Generator
        Source of :math:`\epsilon` (ignored when ``eps`` is given).
    eps : ndarray, shape (N, d), optional
        A fixed :math:`\epsilon` (for gradient checks and for showing one draw).

    Returns
    -------
    Tensor, shape (N, d)
    """
    mu, logvar = _as_tensor(mu), _as_tensor(logvar)
    if tuple(mu.shape) != tuple(logvar.shape):
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    if eps is None:
        eps = _noise(rng, tuple(mu.shape), mu.data)
    return mu + (0.5 * logvar).exp() * _as_tensor(eps).data


def kl_std_normal(mu, logvar):
    r"""Per-sample :math:`KL(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,\mathcal N(0, I))`.

    .. math:: KL = -\tfrac12 \sum_j \left(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\right)

    Zero exactly when :math:`\mu = 0, \sigma = 1`; otherwise positive.  Test vector:
    :math:`\mu = (0.5, -1)`, :math:`\log\sigma^2 = (0, \ln 0.25)` gives 0.943147.

    Parameters
    ----------
    mu, logvar : Tensor or ndarray, shape (..., d)

    Returns
    -------
    Tensor, shape (...)
        One KL per sample (summed over the latent dimensions).
    """
    mu, logvar = _as_tensor(mu), _as_tensor(logvar)
    return -0.5 * (1.0 + logvar - mu * mu - logvar.exp()).sum(axis=-1)


def vae_loss(x, logits, mu, logvar, beta: float = 1.0):
    r"""Negative ELBO of a Bernoulli-pixel VAE, averaged over the batch.

    .. math:: \mathcal L = \underbrace{-\mathbb E_q \log p_\theta(x \mid z)}_{\text{recon}}
              + \beta\, \underbrace{KL(q_\phi(z \mid x)\,\|\,p(z))}_{\text{kl}}

    with :math:`-\log p_\theta(x \mid z) = \sum_{\text{pixels}} \mathrm{BCE}(\text{logit},
    x)` estimated from one reparameterised sample.  :math:`\beta = 1` is the ELBO; a
    smaller :math:`\beta` trades a smooth, Gaussian-shaped latent space for sharper
    reconstructions.

    Parameters
    ----------
    x : Tensor or ndarray, shape (N, D), values in [0, 1]
    logits : Tensor, shape (N, D)
        Decoder outputs before the sigmoid.
    mu, logvar : Tensor, shape (N, d)
    beta : float, >= 0

    Returns
    -------
    (total, recon, kl) : Tensors, scalars
    """
    beta = float(beta)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}")
    logits = _as_tensor(logits)
    n = logits.shape[0]
    target = x.data if isinstance(x, Tensor) else x
    recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / n
    kl = kl_std_normal(mu, logvar).mean()
    return recon + beta * kl, recon, kl


def class_centroids(z, y, n_classes: int):
    """Mean code of each class, ``(n_classes, d)`` (NaN for a class with no samples)."""
    z = np.asarray(backend.to_numpy(z), np.float64)
    y = np.asarray(backend.to_numpy(y))
    onehot = (y[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)
    counts = onehot.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (onehot.T @ z) / counts[:, None]


def nearest_centroid_accuracy(z_train, y_train, z_test, y_test, n_classes: int = 10):
    r"""Accuracy of the nearest-class-mean rule on latent codes.

    Centroids :math:`c_k = \mathrm{mean}\{z_i : y_i = k\}` come from the training codes; each
    test code gets the class of its nearest centroid (Euclidean).  A high score means the
    classes form separate clusters in the latent plane even though no label was used to
    train the autoencoder.

    Returns
    -------
    float in [0, 1]
    """
    c = class_centroids(z_train, y_train, n_classes)
    c = np.where(np.isnan(c), np.inf, c)
    zt = np.asarray(backend.to_numpy(z_test), np.float64)
    with np.errstate(invalid="ignore"):
        d2 = ((zt[:, None, :] - c[None]) ** 2).sum(-1)
    d2 = np.where(np.isnan(d2), np.inf, d2)
    pred = d2.argmin(1)
    return float((pred == np.asarray(backend.to_numpy(y_test))).mean())
