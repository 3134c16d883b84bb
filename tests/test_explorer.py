"""explorer/ without streamlit: latent maths, projections, figures, images."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import figures, images, latents
from explorer.projection import PROJECTIONS, make_projection
from training import paths
from training.bank import nearest_by_mse
from training.moons import nearest_phase_index
from training.sampling import fit_gaussian
from training.store import load_set


def test_lerp_hits_both_endpoints_exactly_and_is_even():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    path = paths.lerp(a, b, 7)
    assert path.shape == (7, 5)
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.allclose(steps, steps[0])


def test_slerp_keeps_the_norm_between_endpoints_of_equal_norm():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = paths.slerp(a, b, 11)
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    assert np.allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a))
    # ... where the straight line cuts through the centre
    assert np.linalg.norm(paths.lerp(a, b, 11)[5]) < 0.9 * np.linalg.norm(a)


def test_slerp_falls_back_to_lerp_for_parallel_or_zero_codes():
    a = np.array([1.0, 0.0])
    assert np.allclose(paths.slerp(a, 2 * a, 3), paths.lerp(a, 2 * a, 3))
    assert np.allclose(paths.slerp(np.zeros(2), a, 3), paths.lerp(np.zeros(2), a, 3))


def test_endpoint_codes_share_one_noise_vector():
    codes = latents.Codes(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 2.0], [0.5, 0.5]]))
    noise = np.array([1.0, -1.0])
    za, zb = latents.endpoint_codes(codes, 0, 1, noise)
    assert np.allclose(za, [1.0, -2.0]) and np.allclose(zb, [1.5, 0.5])
    za, zb = latents.endpoint_codes(codes, 0, 1)
    assert np.allclose(za, [0, 0]) and np.allclose(zb, [1, 1])


def test_slider_ranges():
    codes = latents.Codes(np.array([[0.0, -5.0], [10.0, 5.0]]), None)
    assert np.allclose(latents.slider_ranges(codes, variational=True), [[-3, 3], [-3, 3]])
    assert np.allclose(latents.slider_ranges(codes, variational=False), [[-1, 11], [-6, 6]])


def test_most_active_dims_picks_the_varying_ones():
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((200, 10)) * np.array([0.01] * 5 + [1.0] * 5)
    assert latents.most_active_dims(latents.Codes(mean, None), k=5).tolist() == [5, 6, 7, 8, 9]


def test_traversal_values():
    codes = latents.Codes(np.linspace(0, 10, 101)[:, None], None)
    vae = latents.traversal_values(codes, 0, 5, variational=True)
    assert (
        vae[2] == pytest.approx(0.0) and vae[0] == pytest.approx(-vae[-1]) and vae[-1] == pytest.approx(1.645, abs=1e-3)
    )
    ae = latents.traversal_values(codes, 0, 5, variational=False)
    assert ae[0] == pytest.approx(0.5) and ae[-1] == pytest.approx(9.5)
    grid = latents.traversal_grid(np.zeros(3), (0, 2), np.array([1.0, 2.0]), np.array([5.0, 6.0, 7.0]))
    assert grid.shape == (6, 3) and grid[1].tolist() == [1.0, 0.0, 6.0] and grid[3].tolist() == [2.0, 0.0, 5.0]


def test_nearest_images_finds_exact_copies_first():
    rng = np.random.default_rng(0)
    bank = rng.random((50, 1, 4, 4)).astype(np.float32)
    idx, dist = nearest_by_mse(bank[[7, 3]], bank, k=3)
    assert idx[:, 0].tolist() == [7, 3]
    assert np.allclose(dist[:, 0], 0, atol=1e-6)
    assert (np.diff(dist, axis=1) >= 0).all()
    brute = ((bank.reshape(50, -1) - bank[7].reshape(1, -1)) ** 2).mean(1)
    assert np.allclose(np.sort(brute)[:3], dist[0], atol=1e-6)


def test_phase_and_class_endpoints():
    phases = np.array([0.02, 0.26, 0.5, 0.97])
    assert nearest_phase_index(phases, 0.25) == 1
    assert nearest_phase_index(phases, 0.96) == 3
    assert nearest_phase_index(phases, 0.005) == 0  # wraps round the cycle
    labels = np.array([3, 1, 3, 2])
    assert latents.class_item(labels, 3, 1) == 2 and latents.class_item(labels, 3, 2) == 0
    assert latents.class_item(labels, 9) is None


def test_padded_bounds_and_code_text():
    points = np.array([[0.0, 5.0], [2.0, 5.0]])
    lo, hi = latents.padded_bounds(points, 0.1)
    assert np.allclose(lo, [-0.2, 5.0]) and np.allclose(hi, [2.2, 5.0])
    lo, hi = latents.padded_bounds(points, 0.1, min_extent=1.0)
    assert np.allclose(lo, [-0.2, 4.9]) and np.allclose(hi, [2.2, 5.1])  # a flat coordinate still gets a range
    assert latents.format_code(np.array([1.0, -2.5])) == "1.00, -2.50"
    assert latents.format_code(range(6), limit=4) == "0.00, 1.00, 2.00, 3.00 …"


def test_prior_codes():
    z = latents.prior_codes(3, 4000, seed=0)
    assert z.shape == (4000, 3) and abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    fitted = (np.array([5.0, -5.0]), np.diag([4.0, 0.25]))
    zf = latents.prior_codes(2, 4000, 0, fitted)
    assert np.allclose(zf.mean(0), [5, -5], atol=0.1) and np.allclose(zf.std(0), [2, 0.5], atol=0.1)
    mean, cov = fit_gaussian(zf)
    assert np.allclose(mean, zf.mean(0)) and cov.shape == (2, 2)


def test_encode_and_decode_match_the_model(tiny_pair_dir, tiny_moons):
    vae = load_set(tiny_pair_dir)["vae"].model
    codes = latents.encode(vae, tiny_moons.test.x)
    posterior = vae.encode(tiny_moons.test.x)
    assert np.allclose(codes.mean, posterior.mean.detach().numpy())
    assert np.allclose(codes.std, posterior.std.detach().numpy())
    z = codes.mean[:3]
    assert np.allclose(latents.decode(vae, z), vae.decode(torch.from_numpy(z)).detach().numpy())


# t-SNE in the fast tests: test_a_projection_fitted_on_a_subsample_places_every_code
@pytest.mark.parametrize("method", ["pca", *(pytest.param(m, marks=pytest.mark.slow) for m in ("tsne", "umap"))])
def test_projection_transform_of_fitted_points_matches_its_embedding(method):
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.standard_normal((150, 6)), rng.standard_normal((150, 6)) + 4]).astype(np.float32)
    proj = make_projection(method, 6, **{k: p.default for k, p in PROJECTIONS[method].params.items()}).fit(codes)
    assert proj.embedding_.shape == (300, 2)
    assert np.allclose(proj.transform(codes[:20]), proj.embedding_[:20], atol=1e-5)
    # New codes land near their neighbours: a point of cluster 2 maps nearer cluster 2's centre.
    new = proj.transform(np.full((1, 6), 4.0, dtype=np.float32))[0]
    c1, c2 = proj.embedding_[:150].mean(0), proj.embedding_[150:].mean(0)
    assert np.linalg.norm(new - c2) < np.linalg.norm(new - c1)


def test_two_d_codes_use_the_identity():
    codes = np.random.default_rng(0).standard_normal((30, 2)).astype(np.float32)
    proj = make_projection("umap", 2).fit(codes)
    assert proj.name == "identity"
    assert np.array_equal(proj.transform(np.array([[9.0, 9.0]])), [[9.0, 9.0]])


def test_latent_map_carries_the_expected_traces():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((40, 2))
    labels = np.arange(40) % 4
    panels = [
        figures.MapPanel(
            "AE latent space", points, path=points[:5], marker=points[0], probe_box=(points.min(0), points.max(0))
        ),
        figures.MapPanel("VAE latent space", points, std=np.full((40, 2), 0.1), path=points[:5]),
    ]
    fig = figures.latent_maps(panels, figures.Colouring(labels, "label", "label", ["a", "b", "c", "d"]))
    names = [t.name for t in fig.data]
    assert names.count("a") == 2  # each class in both panels ...
    assert sum(t.showlegend for t in fig.data if t.name == "a") == 1  # ... with one shared legend entry
    assert names.count("interpolation") == 2 and names.count("current point") == 1
    assert "±1σ posterior" in names and "empty space" in names
    class_trace = next(t for t in fig.data if t.name == "b" and t.xaxis == "x2")
    assert all(cd[0] == 1 for cd in class_trace.customdata)  # picks say which panel
    assert sorted(cd[1] for cd in class_trace.customdata) == list(np.flatnonzero(labels == 1))


def test_phase_colouring_uses_one_continuous_scale():
    points = np.zeros((10, 2))
    fig = figures.latent_maps(
        [figures.MapPanel("AE", points), figures.MapPanel("VAE", points)],
        figures.Colouring(np.linspace(0, 1, 10), "factor", "phase"),
    )
    assert fig.layout.coloraxis.colorbar.title.text == "phase"
    assert all(t.marker.coloraxis == "coloraxis" for t in fig.data)


def test_ellipses_are_one_sigma():
    xs, ys = figures.ellipse_lines(np.array([[1.0, 2.0]]), np.array([[0.5, 0.25]]), segments=4)
    assert np.allclose(xs[:5], [1.5, 1.0, 0.5, 1.0, 1.5]) and np.allclose(ys[:5], [2.0, 2.25, 2.0, 1.75, 2.0])
    assert np.isnan(xs[5])


def test_images_round_trip_through_png_and_gif():
    frames = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    strip = images.grid(frames, ncols=3, pad=1)
    assert strip.shape == (10, 28) and strip.dtype == np.uint8
    decoded = np.asarray(Image.open(io.BytesIO(images.png_bytes(strip))))
    assert np.array_equal(decoded, strip)
    gif = Image.open(io.BytesIO(images.gif_bytes([images.to_uint8(f) for f in frames])))
    assert gif.n_frames == 4  # forwards then back: 0 1 2 1
    for i, frame in enumerate(frames[[0, 1, 2, 1]]):  # issue 27: grey tones kept exactly, no dithering
        gif.seek(i)
        assert np.array_equal(np.asarray(gif.convert("L")), images.to_uint8(frame))
    labelled = [images.annotate(images.to_uint8(f), ["VAE"], ["t=0.40"]) for f in frames]  # RGB, as exported
    gif = Image.open(io.BytesIO(images.gif_bytes(labelled)))
    assert labelled[0].ndim == 3 and np.array_equal(np.asarray(gif.convert("RGB")), labelled[0])
    assert images.upscale(strip, 3).shape == (30, 84)


def test_a_projection_fitted_on_a_subsample_places_every_code():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.standard_normal((400, 5)), rng.standard_normal((400, 5)) + 5]).astype(np.float32)
    proj = make_projection("tsne", 5, perplexity=20, max_fit=200).fit(codes)
    assert proj.fit_embedding_.shape == (200, 2) and proj.embedding_.shape == (800, 2)
    assert np.allclose(proj.transform(codes[:10]), proj.embedding_[:10])
    c1, c2 = proj.embedding_[:400].mean(0), proj.embedding_[400:].mean(0)
    assert np.linalg.norm(proj.embedding_[600] - c2) < np.linalg.norm(proj.embedding_[600] - c1)


def test_a_flow_q_s_contours_hold_a_gaussian_s_sigma_shares_of_its_mass():
    """figures.density_levels / contour_lines (the family maps draw a flow q's density as these lines): on a
    correlated Gaussian's density the 1, 2, 3-sigma shares give the density on its k-sigma ellipses, and the
    contour drawn lies on that ellipse to within the grid's spacing."""
    from explorer.figures import contour_lines, density_levels

    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    axis = np.linspace(-5, 5, 201)
    z = np.stack(np.meshgrid(axis, axis, indexing="xy"), -1)  # (y, x, 2): rows along z1
    inv = np.linalg.inv(cov)
    r2 = np.einsum("...i,ij,...j->...", z, inv, z)  # squared Mahalanobis distance
    density = np.exp(-r2 / 2) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    levels = density_levels(density)
    for k, level in zip((1, 2, 3), levels):
        want = np.exp(-(k**2) / 2) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
        assert abs(level / want - 1) < 0.05, (k, level, want)
        xs, ys = contour_lines(axis, axis, density, level)
        points = np.array([(x, y) for x, y in zip(xs, ys) if x is not None])
        assert None in xs and len(points) > 50
        radius = np.sqrt(np.einsum("ni,ij,nj->n", points, inv, points))
        assert np.abs(radius - k).max() < 0.05 * k + 0.05, (k, radius.min(), radius.max())
