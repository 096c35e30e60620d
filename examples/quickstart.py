from art.attacks.evasion import ProjectedGradientDescent
from art_activation_defenses import RetrofitClassifier, build_model, load_dataset
from art_activation_defenses.training import fit
(x, y), (xt, yt) = load_dataset("digits"), load_dataset("digits", split="test")
model = build_model("lenet-like", x.shape[1:], 10); fit(model, x, y, epochs=30, lr=3e-3, batch_size=64)
clf = RetrofitClassifier(model, input_shape=x.shape[1:], nb_classes=10, activation="jumprelu", kappa=0.4, clip_values=(0, 1))
pgd = ProjectedGradientDescent(clf, eps=0.1, eps_step=0.025, max_iter=20, verbose=False)
for mode in ("exact", "bpda"): clf.set_params(gradient=mode); print(mode, (clf.predict(pgd.generate(xt)).argmax(1) == yt).mean())
