"""English strings of the tour (keys shared with zh.py; placeholders are str.format fields)."""

STRINGS: dict[str, str] = {
    # page furniture
    "page_title": "Guided tour",
    "intro": "The argument of a VAE tutorial, one claim per step, each measured live on the pair **{pair}** "
    "(change it in the sidebar).",
    "language": "Language",
    "step": "Step",
    "back": "Back",
    "next": "Next",
    "keys_hint": "The ← and → keys move between steps too.",
    "open_full": "Open this in the full page",
    "ae": "AE",
    "vae": "VAE",
    "path_name": "crescent → full moon",
    "holds": "Holds here",
    "fails": "Does not hold here",
    "missing": "This step needs {what}, which this installation does not have yet.",
    # 1. an autoencoder
    "s1_title": "1 · An autoencoder: image → code → image",
    "s1_body": "An encoder squeezes each image into a short code z; a decoder turns the code back into an image. "
    "Training asks for one thing only: the decode of an image's code should look like the image. Both models "
    "here share that encoder and decoder shape. The AE's code is a point; the VAE's encoder gives a mean μ "
    "and a spread σ, and we decode μ.",
    "s1_control": "Which moon (phase of the test image)",
    "s1_codes": "AE code z = ({ae_code}); VAE μ = ({vae_mean}), σ = ({vae_std}).",
    "s1_result": "Reconstruction error of this image: AE {ae_mse:.5f} MSE ({ae_bce:.1f} nats BCE), "
    "VAE {vae_mse:.5f} MSE ({vae_bce:.1f} nats BCE).",
    "cap_input": "input",
    "cap_decode": "{model} decode",
    # 2. the hole
    "s2_title": "2 · The hole between two codes",
    "s2_body": "Take the AE's codes of a crescent and of a full moon and walk the straight line between them. "
    "Nothing in an AE's training asks the points in between to decode to anything: only the codes of "
    "training images are ever decoded. The hole map colours each point of the code plane by how far its "
    "decode is from the nearest real image (dark = real, bright = a hole).",
    "s2_control": "Position t on the line (0 = crescent, 1 = full moon)",
    "s2_result": "At t = {t:.2f} the decode is {ae_t:.4f} (AE) and {vae_t:.4f} (VAE) from the nearest real "
    "image; at the midpoint t = 0.5: AE {ae_mid:.4f}, VAE {vae_mid:.4f} (mean squared pixel error; 0 is real).",
    "s2_strip": "{model} along the line, {steps} steps",
    # 3. codes as distributions
    "s3_title": "3 · Codes as distributions, and the reparameterisation trick",
    "s3_body": "A VAE maps an image to a Gaussian q(z|x) = N(μ, σ²), drawn below as ±1σ ellipses. Training "
    "decodes a sample z from it, so the neighbourhood of every code is decoded too. The sample is written "
    "z = μ + σ·ε with ε ~ N(0, I): the randomness lives in ε alone, so the gradient of the loss reaches μ and σ "
    "(∂z/∂μ = 1, ∂z/∂σ = ε) and the encoder can learn.",
    "s3_control": "ε (the same in every dimension)",
    "s3_result": "z = ({z}); by autograd ∂z/∂μ = ({grad_mean}) and ∂z/∂σ = ({grad_std}). "
    "This decode is {distance:.4f} from the nearest real image.",
    "s3_map": "VAE codes of the test split, ±1σ ellipses",
    # 4. log sigma^2
    "s4_title": "4 · Why the encoder predicts log σ²",
    "s4_body": "A standard deviation must be positive and, across images and dimensions, spans orders of "
    "magnitude. A linear layer outputs any real number on an even scale. Predicting log σ² lets it do "
    "exactly that: every real output is a valid σ = exp(½ log σ²), and equal steps are equal ratios.",
    "s4_control": "Which moon (phase of the test image)",
    "s4_result": "For this image the encoder outputs log σ² = ({logvar}), so σ = ({std}).",
    "s4_split": "Over the test split σ runs from {lo:.2e} to {hi:.2e}, a factor of {ratio:,.0f}; log σ² runs "
    "from {llo:.1f} to {lhi:.1f}. A head giving σ directly would have to stay above 0 and span that factor: an "
    "output step of 0.01 would move the smallest σ by {step:.0%}.",
    "s4_clamp": "The model clamps log σ² to [{clo:g}, {chi:g}] so that exp() stays finite.",
    # 5. KL
    "s5_title": "5 · The KL term, β, and posterior collapse",
    "s5_body": "The VAE's loss adds KL(q(z|x) ‖ N(0, I)) to the reconstruction error. For a diagonal Gaussian "
    "it has a closed form per dimension, shown with this image's numbers. It pulls every code towards the "
    "prior so neighbourhoods overlap; β weighs it. Too much weight and a dimension stops carrying anything "
    "(its q equals the prior for every image): posterior collapse.",
    "s5_control": "β (the weight of the KL term)",
    "s5_result": "KL per dimension = ({per_dim}) nats, total {kl:.2f}; reconstruction {recon:.1f} nats. At β = "
    "{beta:g} this image's objective is {objective:.1f} nats, {share:.1%} of it the KL term.",
    "s5_table": "VAEs trained on this dataset, measured now on their test split:",
    "s5_one_beta": "Every VAE here was trained with β = {beta:g}; train others on the Train page to add rows.",
    "col_set": "model set",
    "col_kl": "mean KL (nats)",
    "col_active": "active units",
    "col_collapsed": "collapsed dims",
    # 6. the midpoint, measured
    "s6_title": "6 · The midpoint, measured",
    "s6_body": "The tutorial predicts that a code halfway between a crescent and a full moon has features of both "
    "and so decodes to a half moon. Here is what each model decodes along the line, the phase of the true moon "
    "nearest to each decode, and how far each decode is from that true render.",
    "s6_control": "Steps along the line",
    "s6_strip": "{model}: mean distance {mean:.4f}, max {max:.4f}; captions: recovered phase",
    "s6_truth": "True renders at evenly spaced phases between the endpoints",
    "s6_result": "{model} midpoint: recovered phase {phase:.3f}, distance to that true render {distance:.4f}. "
    "A real half moon somewhere on the line: {verdict}.",
    "s6_lab": "`python -m training lab`, same regime and code size: {model} passes a real half moon in "
    "{passes:.0%} ± {passes_sd:.0%} of seeds, mean path distance {dist:.4f} ± {dist_sd:.4f}.",
    # 7. ELBO and EM
    "s7_title": "7 · The ELBO and the EM view",
    "s7_body": "With a 2-D code, log p(x) = log ∫ p(x|z) p(z) dz can be computed exactly on a grid, and so can the "
    "true posterior p(z|x). The ELBO falls short of log p(x) by exactly KL(q ‖ p(z|x)). The E-step of EM would set q "
    "to the best Gaussian for this one image (q*); the encoder has to serve every image at once, and leaves a gap.",
    # 8. IWAE
    "s8_title": "8 · Tighter bounds: IWAE-k",
    "s8_body": "Averaging k importance weights inside the logarithm gives a bound that tightens as k grows and reaches "
    "log p(x) in the limit; k = 1 is the ELBO.",
    # 9. conditional
    "s9_title": "9 · Conditional VAE: draw a chosen digit, fill in a missing half",
    "s9_body": "Give the encoder and decoder a condition c (a label, or the visible half of an image) and the "
    "prior stays N(0, I): z now carries only what c does not say, such as the style. A regression from c to x, "
    "trained on squared error, can only paint the average of everything consistent with c.",
    "s9_control": "Digit",
    "s9_result": "{n} CVAE draws of {label} differ by {spread:.3f} per pixel (std); the regression has one image.",
    "s9_fill": "Filling in the missing half of test image {item} (the {mask} half given): regression MSE "
    "{reg_mse:.4f}, sharpness {reg_sharp:.3f}; {n} CVAE completions best {best:.4f}, mean {mean:.4f}, "
    "sharpness {sharp:.3f}, differing from each other by {diversity:.4f}.",
    "cap_regression": "regression",
    "cap_truth": "truth",
    "cap_given": "given",
    # 10. closing
    "s10_title": "What holds of the argument, and what does not",
    "s10_body": "Each line below is decided by the numbers the steps above showed for this pair.",
    "c_recon_yes": "The AE reconstructs this moon better ({ae:.5f} vs {vae:.5f} MSE): the VAE pays for its KL term.",
    "c_recon_no": "The VAE reconstructs this moon as well or better ({vae:.5f} vs {ae:.5f} MSE).",
    "c_mid_yes": "The worst point on the AE's line decodes further from any real image than the VAE's ({ae:.4f} vs "
    "{vae:.4f}): the hole is there.",
    "c_mid_no": "The worst point on the AE's line is no further from a real image than the VAE's ({ae:.4f} vs "
    "{vae:.4f}): on this pair there is no hole to show.",
    "c_collapse_yes": "The VAE uses {active} of its {dim} dimensions: no posterior collapse.",
    "c_collapse_no": "The VAE uses only {active} of its {dim} dimensions: part of it has collapsed.",
    "c_cvae_yes": "CVAE completions are sharper than the regression's average ({sharp:.3f} vs {reg:.3f}).",
    "c_cvae_no": "The CVAE completions are not sharper than the regression's ({sharp:.3f} vs {reg:.3f}).",
    # steps 6-8 and their closing lines (m-tour2)
    "s7_control": "Which image",
    "moon_crescent": "the crescent",
    "moon_full": "the full moon",
    "s7_result": "Test image {item} of **{pair}**: log p(x) = {log_px:.2f} nats, exact (by quadrature). ELBO = E_q "
    "log p(x|z) − KL(q ‖ p(z)) = {recon:.2f} − {kl_prior:.2f} = {elbo:.2f} ± {elbo_se:.2f} (5,000 draws "
    "from q). The difference, KL(q(z|x) ‖ p(z|x)) = {gap:.2f} nats, is what the encoder's Gaussian costs "
    "on this image.",
    "s7_estep": "The E-step: a Gaussian q* fitted to this image alone reaches ELBO {star:.2f} ± {star_se:.2f}. Of "
    "the {gap:.2f} nats between the ELBO and log p(x), {amort:.2f} ({share:.0%}) is the amortisation gap "
    "the encoder leaves (one network for every image); {approx:.2f} is the approximation gap no diagonal "
    "Gaussian can close.",
    "s8_control": "k (importance samples)",
    "s8_result": "Image {item}: IWAE-{k} = {iwae:.2f} nats, {gap:.2f} below the exact log p(x) = {log_px:.2f} (the "
    "ELBO, k = 1, is {elbo_gap:.2f} below). Effective sample size of the {k} weights: {ess:.1f}; a small "
    "one means a few samples carry the estimate.",
    "s6_lab_verdict": "The lab over seeds ({regime} regime, latent size {dim}): {verdict}",
    "s6_line": "The tutorial's own 1-D code (**{pair}**): every code from end to end, decoded, and below the "
    "recovered phase of each decode (green: a real moon). {verdicts}",
    "s6_line_real": "{model}: {real} of {n} decodes along the line are real moons.",
    "c_elbo_yes": "The ELBO is a lower bound here: {elbo:.2f} ≤ log p(x) = {log_px:.2f}, and the gap is KL(q ‖ p(z|x)) "
    "= {gap:.2f} nats.",
    "c_elbo_no": "The estimated ELBO ({elbo:.2f}) exceeds log p(x) = {log_px:.2f} by more than its noise (gap "
    "{gap:.2f}).",
    "c_estep_yes": "The encoder, not the Gaussian family, leaves most of the gap: amortisation {amort:.2f} vs "
    "approximation {approx:.2f} nats; the E-step on this image would close most of it.",
    "c_estep_no": "The Gaussian family, not the encoder, leaves most of the gap: approximation {approx:.2f} vs "
    "amortisation {amort:.2f} nats; an E-step alone cannot close it.",
    "c_iwae_yes": "IWAE-k rises toward log p(x) as k grows: {gap:.2f} nats short at k = {k}, against {elbo_gap:.2f} "
    "for the ELBO.",
    "c_iwae_no": "IWAE-k does not close in on log p(x) steadily: {gap:.2f} nats short at k = {k}, {elbo_gap:.2f} for "
    "the ELBO.",
    # the lab's comparisons over seeds (training/lab.py COMPARED and RATIO_WORDS, worded per language)
    "lab_line": "{what}: {words} (AE/VAE {ratio:.2f}, {level:.0%} CI {low:.2f}-{high:.2f}, {seeds} seeds).",
    "lab_c2f_mean_distance": "crescent→full path, mean distance to a real moon",
    "lab_c2f_max_distance": "crescent→full path, worst point",
    "lab_random_mean_distance": "random-pair paths, mean distance",
    "lab_random_max_distance": "random-pair paths, worst point (mean over pairs)",
    "lab_box_half_moon_distance": "closest any decode in the latent box gets to a half moon",
    "lab_prior_standard_coverage_gap": "coverage gap of N(0, I) samples (both models)",
    "lab_prior_fitted_coverage_gap": "coverage gap of fitted-Gaussian samples (both models)",
    "lab_prior_standard": "mean distance of N(0, I) samples (both models)",
    "lab_prior_fitted": "mean distance of fitted-Gaussian samples (both models)",
    "lab_recon_mse": "reconstruction MSE",
    "lab_own_sampler_gap": "coverage gap, each its usual sampler (AE fitted, VAE N(0, I))",
    "ratio_vae": "the VAE's is lower",
    "ratio_ae": "the AE's is lower",
    "ratio_same": "the same (within {within:.0%})",
    "ratio_unclear": "no clear difference",
    "ratio_one seed": "one seed, no interval",
    # the figures' labels (explorer/figures.py)
    "fig_test_codes": "test codes",
    "fig_crescent_full": "crescent → full",
    "fig_distance": "distance",
    "fig_codes": "codes",
    "fig_posterior": "±1σ posterior",
    "fig_current": "current point",
    "fig_phase": "phase",
    "fig_q": "q(z|x), encoder (1, 2, 3σ)",
    "fig_q_star": "q*, optimised (1, 2, 3σ)",
    "fig_prior": "prior N(0, I) (1, 2, 3σ)",
    "fig_ae_code": "AE's code (its own latent space)",
    "fig_iwae": "IWAE-k (encoder's q)",
    "fig_k": "k (importance samples)",
    "fig_exact": "exact log p(x)",
    "fig_real": "a real moon",
    "fig_not_real": "not a real moon",
    "fig_data_codes": "data codes",
    "fig_code_z": "code z",
    "fig_step": "step",
    "claim": "**{verdict}.** {text}",
    "mask_top": "top",
    "mask_bottom": "bottom",
    "mask_left": "left",
    "mask_right": "right",
}
