"""简体中文：导览的字符串（键与 en.py 相同，占位符也相同）。"""

STRINGS: dict[str, str] = {
    # 页面
    "page_title": "导览",
    "intro": "把 VAE 教程里的论证拆成一步一个论断，每一步都在模型对 **{pair}** 上当场计算（可在侧栏更换）。",
    "language": "语言",
    "step": "步骤",
    "back": "上一步",
    "next": "下一步",
    "keys_hint": "也可以用 ← 和 → 键切换步骤。",
    "open_full": "在完整页面中打开",
    "ae": "AE",
    "vae": "VAE",
    "path_name": "新月 → 满月",
    "holds": "在这里成立",
    "fails": "在这里不成立",
    "missing": "这一步需要 {what}，当前安装中还没有。",
    # 1. 自编码器
    "s1_title": "1 · 自编码器：图像 → 编码 → 图像",
    "s1_body": "编码器把每张图像压缩成一个很短的编码 z，解码器再把编码还原成图像。训练只要求一件事："
    "图像编码的解码结果要像原图。这里的两个模型编码器和解码器结构相同。AE 的编码是一个点；"
    "VAE 的编码器给出均值 μ 和标准差 σ，我们解码的是 μ。",
    "s1_control": "选哪个月亮（测试图像的月相）",
    "s1_codes": "AE 编码 z = ({ae_code})；VAE μ = ({vae_mean})，σ = ({vae_std})。",
    "s1_result": "这张图像的重建误差：AE {ae_mse:.5f} MSE（BCE {ae_bce:.1f} nats），"
    "VAE {vae_mse:.5f} MSE（BCE {vae_bce:.1f} nats）。",
    "cap_input": "输入",
    "cap_decode": "{model} 解码",
    # 2. 空洞
    "s2_title": "2 · 两个编码之间的空洞",
    "s2_body": "取 AE 对一弯新月和一轮满月的编码，沿两者之间的直线走一遍。AE 的训练从不要求中间的点解码出什么："
    "被解码的只有训练图像的编码。空洞图按每个潜变量点的解码结果离最近的真实图像有多远来着色"
    "（暗色 = 真实，亮色 = 空洞）。",
    "s2_control": "直线上的位置 t（0 = 新月，1 = 满月）",
    "s2_result": "在 t = {t:.2f} 处，解码结果离最近的真实图像：AE {ae_t:.4f}，VAE {vae_t:.4f}；"
    "在中点 t = 0.5：AE {ae_mid:.4f}，VAE {vae_mid:.4f}（逐像素均方误差，0 即真实）。",
    "s2_strip": "{model} 沿直线解码，共 {steps} 步",
    # 3. 分布
    "s3_title": "3 · 编码是分布：重参数化技巧",
    "s3_body": "VAE 把图像映射成一个高斯分布 q(z|x) = N(μ, σ²)，下图画出 ±1σ 的椭圆，也就是后验分布的近似。"
    "训练时解码的是从中采样的 z，所以每个编码的邻域也被训练到。采样写成 z = μ + σ·ε，ε ~ N(0, I)："
    "随机性只在 ε 里，损失的梯度因此能传到 μ 和 σ（∂z/∂μ = 1，∂z/∂σ = ε），编码器才能学习。",
    "s3_control": "ε（每个维度取同一个值）",
    "s3_result": "z = ({z})；自动求导得 ∂z/∂μ = ({grad_mean})，∂z/∂σ = ({grad_std})。"
    "这个解码结果离最近的真实图像 {distance:.4f}。",
    "s3_map": "测试集的 VAE 编码及 ±1σ 椭圆",
    # 4. log σ²
    "s4_title": "4 · 为什么编码器预测 log σ²",
    "s4_body": "标准差必须为正，而且在不同图像、不同维度之间相差好几个数量级。线性层的输出可以是任意实数，"
    "尺度均匀。预测 log σ² 正好符合这一点：任何实数输出都对应合法的 σ = exp(½ log σ²)，相同的步长对应相同的倍数。",
    "s4_control": "选哪个月亮（测试图像的月相）",
    "s4_result": "对这张图像，编码器输出 log σ² = ({logvar})，即 σ = ({std})。",
    "s4_split": "在测试集上 σ 从 {lo:.2e} 到 {hi:.2e}，相差 {ratio:,.0f} 倍；log σ² 从 {llo:.1f} 到 {lhi:.1f}。"
    "若直接输出 σ，网络必须保持输出大于 0 并覆盖这个倍数：输出变化 0.01 就会让最小的 σ 变化 {step:.0%}。",
    "s4_clamp": "模型把 log σ² 限制在 [{clo:g}, {chi:g}]，使 exp() 保持有限。",
    # 5. KL
    "s5_title": "5 · KL 散度、β 与后验坍缩",
    "s5_body": "VAE 的损失在重建误差之外加上 KL(q(z|x) ‖ N(0, I))。对对角高斯分布，它按维度有闭式解，"
    "下面代入这张图像的数值。它把每个编码拉向先验，让邻域互相重叠；β 是它的权重。权重过大时，"
    "某个维度不再携带任何信息（对每张图像 q 都等于先验）：这就是后验坍缩。",
    "s5_control": "β（KL 项的权重）",
    "s5_result": "每个维度的 KL = ({per_dim}) nats，合计 {kl:.2f}；重建项 {recon:.1f} nats。"
    "β = {beta:g} 时这张图像的目标函数为 {objective:.1f} nats，其中 KL 项占 {share:.1%}。",
    "s5_table": "在这个数据集上训练的 VAE，当场在各自的测试集上测量：",
    "s5_one_beta": "这里所有 VAE 都是用 β = {beta:g} 训练的；可以在训练页面训练其他 β 来增加行。",
    "col_set": "模型集",
    "col_kl": "平均 KL（nats）",
    "col_active": "活跃单元",
    "col_collapsed": "坍缩维度",
    # 6. 中点
    "s6_title": "6 · 测量中点",
    "s6_body": "教程预测：新月与满月编码的正中间兼有两者的特征，因此会解码成半月。这里给出每个模型沿直线的解码结果、"
    "与每个解码结果最接近的真实月亮的月相，以及它离那张真实渲染图有多远。",
    "s6_control": "直线上的步数",
    "s6_strip": "{model}：平均距离 {mean:.4f}，最大 {max:.4f}；图下数字为恢复出的月相",
    "s6_truth": "在两端月相之间均匀取值的真实渲染图",
    "s6_result": "{model} 中点：恢复出的月相 {phase:.3f}，离那张真实渲染图 {distance:.4f}。"
    "直线上是否出现真正的半月：{verdict}。",
    "s6_lab": "`python -m training lab`，相同训练条件与编码维度：{model} 在 {passes:.0%} ± {passes_sd:.0%} 的随机种子中"
    "经过真正的半月，路径平均距离 {dist:.4f} ± {dist_sd:.4f}。",
    # 7. ELBO 与 EM
    "s7_title": "7 · 证据下界 ELBO 与 EM 的视角",
    "s7_body": "潜变量是二维时，log p(x) = log ∫ p(x|z) p(z) dz 可以在网格上精确计算，真实的后验分布 p(z|x) 也一样。"
    "ELBO 比 log p(x) 恰好少了 KL(q ‖ p(z|x))。EM 的 E 步会把 q 设为针对这一张图像最好的高斯分布（q*）；"
    "编码器要同时服务所有图像，因而留下差距。",
    # 8. IWAE
    "s8_title": "8 · 更紧的下界：IWAE-k",
    "s8_body": "在对数内对 k 个重要性权重取平均，得到的下界随 k 增大而变紧，极限为 log p(x)；k = 1 时就是 ELBO。",
    # 9. 条件 VAE
    "s9_title": "9 · 条件 VAE：画指定的数字，补全缺失的一半",
    "s9_body": "给编码器和解码器一个条件 c（类别标签，或图像可见的一半），先验仍是 N(0, I)："
    "潜变量 z 只需携带 c 没有说明的内容，例如书写风格。用平方误差训练的从 c 到 x 的回归模型，"
    "只能画出所有符合 c 的图像的平均。",
    "s9_control": "数字",
    "s9_result": "{label} 的 {n} 个 CVAE 采样之间逐像素相差 {spread:.3f}（标准差）；回归模型只有一张图。",
    "s9_fill": "补全测试图像 {item} 缺失的一半（给出{mask}半）：回归 MSE {reg_mse:.4f}，清晰度 {reg_sharp:.3f}；"
    "{n} 个 CVAE 补全中最好 {best:.4f}，平均 {mean:.4f}，清晰度 {sharp:.3f}，彼此相差 {diversity:.4f}。",
    "cap_regression": "回归",
    "cap_truth": "原图",
    "cap_given": "给出部分",
    # 10. 结论
    "s10_title": "论证中哪些成立，哪些不成立",
    "s10_body": "下面每一条都由前面各步对这个模型对算出的数字决定。",
    "c_recon_yes": "AE 对这个月亮重建得更好（MSE {ae:.5f} 对 {vae:.5f}）：VAE 要为 KL 项付出代价。",
    "c_recon_no": "VAE 对这个月亮重建得一样好或更好（MSE {vae:.5f} 对 {ae:.5f}）。",
    "c_mid_yes": "AE 直线上最差的点比 VAE 的离真实图像更远（{ae:.4f} 对 {vae:.4f}）：空洞确实存在。",
    "c_mid_no": "AE 直线上最差的点并不比 VAE 的离真实图像更远（{ae:.4f} 对 {vae:.4f}）："
    "在这个模型对上没有可展示的空洞。",
    "c_collapse_yes": "VAE 用到了全部 {dim} 个维度中的 {active} 个：没有后验坍缩。",
    "c_collapse_no": "VAE 只用到了 {dim} 个维度中的 {active} 个：部分维度已经坍缩。",
    "c_cvae_yes": "CVAE 的补全比回归的平均图像更清晰（{sharp:.3f} 对 {reg:.3f}）。",
    "c_cvae_no": "CVAE 的补全并不比回归的更清晰（{sharp:.3f} 对 {reg:.3f}）。",
    # steps 6-8 and their closing lines (m-tour2)
    "s7_control": "哪一张图像",
    "moon_crescent": "新月",
    "moon_full": "满月",
    "s7_result": "**{pair}** 的测试图像 {item}：log p(x) = {log_px:.2f} nats，用数值积分精确求得。证据下界 ELBO = E_q "
    "log p(x|z) − KL(q ‖ p(z)) = {recon:.2f} − {kl_prior:.2f} = {elbo:.2f} ± {elbo_se:.2f}（从 q 抽 5,000"
    " 个样本）。两者之差 KL(q(z|x) ‖ p(z|x)) = {gap:.2f} nats，就是编码器给出的高斯分布在这张图像上的"
    "代价。",
    "s7_estep": "E 步：只为这一张图像优化的高斯分布 q* 的 ELBO 为 {star:.2f} ± {star_se:.2f}。ELBO 与 log p(x) 之间的"
    " {gap:.2f} nats 中，{amort:.2f}（{share:.0%}）是编码器留下的摊销差距（一个网络服务所有图像）；"
    "{approx:.2f} 是任何对角高斯都无法消除的近似差距。",
    "s8_control": "k（重要性样本数）",
    "s8_result": "图像 {item}：IWAE-{k} = {iwae:.2f} nats，比精确的 log p(x) = {log_px:.2f} 低 {gap:.2f}"
    "（k = 1 即 ELBO，低 {elbo_gap:.2f}）。这 {k} 个权重的有效样本量为 {ess:.1f}；它越小，估计越依赖少数几个样本。",
    "s6_lab_verdict": "多个随机种子上的实验（{regime} 训练条件，潜变量维度 {dim}）：{verdict}",
    "s6_line": "教程本身用的一维编码（**{pair}**）：从一端到另一端的每个编码及其解码，下方是每个解码恢复出的月相"
    "（绿色：真实的月亮）。{verdicts}",
    "s6_line_real": "{model}：沿直线的 {n} 个解码中有 {real} 个是真实的月亮。",
    "c_elbo_yes": "ELBO 在这里确实是下界：{elbo:.2f} ≤ log p(x) = {log_px:.2f}，差距就是 KL(q ‖ p(z|x)) "
    "= {gap:.2f} nats。",
    "c_elbo_no": "估计出的 ELBO（{elbo:.2f}）超过 log p(x) = {log_px:.2f}，超出量大于其噪声（差距 {gap:.2f}）。",
    "c_estep_yes": "差距主要来自编码器而不是高斯分布族：摊销差距 {amort:.2f}，近似差距 {approx:.2f} nats；"
    "对这张图像做一次 E 步就能消除大部分差距。",
    "c_estep_no": "差距主要来自高斯分布族而不是编码器：近似差距 {approx:.2f}，摊销差距 {amort:.2f} nats；"
    "仅靠 E 步无法消除。",
    "c_iwae_yes": "随着 k 增大，IWAE-k 逐步逼近 log p(x)：k = {k} 时还差 {gap:.2f} nats，ELBO 差 {elbo_gap:.2f}。",
    "c_iwae_no": "IWAE-k 并没有稳定地逼近 log p(x)：k = {k} 时还差 {gap:.2f} nats，ELBO 差 {elbo_gap:.2f}。",
    # 多随机种子实验的比较（training/lab.py 的 COMPARED 与 RATIO_WORDS）
    "lab_line": "{what}：{words}（AE/VAE {ratio:.2f}，{level:.0%} 置信区间 {low:.2f}–{high:.2f}，"
    "{seeds} 个随机种子）。",
    "lab_c2f_mean_distance": "新月→满月路径，到真实月亮的平均距离",
    "lab_c2f_max_distance": "新月→满月路径，最差的点",
    "lab_random_mean_distance": "随机成对路径，平均距离",
    "lab_random_max_distance": "随机成对路径，最差的点（对各对取平均）",
    "lab_box_half_moon_distance": "潜空间包围盒内任意解码离半月最近的距离",
    "lab_prior_standard_coverage_gap": "N(0, I) 采样的覆盖缺口（两个模型）",
    "lab_prior_fitted_coverage_gap": "拟合高斯采样的覆盖缺口（两个模型）",
    "lab_prior_standard": "N(0, I) 采样的平均距离（两个模型）",
    "lab_prior_fitted": "拟合高斯采样的平均距离（两个模型）",
    "lab_recon_mse": "重建 MSE",
    "lab_own_sampler_gap": "覆盖缺口，各用其常用采样方式（AE 用拟合高斯，VAE 用 N(0, I)）",
    "ratio_vae": "VAE 的更低",
    "ratio_ae": "AE 的更低",
    "ratio_same": "两者相同（相差不超过 {within:.0%}）",
    "ratio_unclear": "没有明显差别",
    "ratio_one seed": "只有一个随机种子，没有区间",
    # 图中的标签（explorer/figures.py）
    "fig_test_codes": "测试集编码",
    "fig_crescent_full": "新月 → 满月",
    "fig_distance": "距离",
    "fig_codes": "编码",
    "fig_posterior": "±1σ 后验",
    "fig_current": "当前点",
    "fig_phase": "月相",
    "fig_q": "q(z|x)，编码器（1、2、3σ）",
    "fig_q_star": "q*，优化所得（1、2、3σ）",
    "fig_prior": "先验 N(0, I)（1、2、3σ）",
    "fig_ae_code": "AE 的编码（在它自己的潜空间中）",
    "fig_iwae": "IWAE-k（编码器的 q）",
    "fig_k": "k（重要性样本数）",
    "fig_exact": "精确的 log p(x)",
    "fig_real": "真实的月亮",
    "fig_not_real": "不是真实的月亮",
    "fig_data_codes": "数据的编码",
    "fig_code_z": "编码 z",
    "fig_step": "步",
    "claim": "**{verdict}**：{text}",
    "mask_top": "上",
    "mask_bottom": "下",
    "mask_left": "左",
    "mask_right": "右",
}
