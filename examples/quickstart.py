from art.attacks.evasion import ProjectedGradientDescent
from art_activation_defenses import RetrofitClassifier, build_model, load_dataset
from art_activation_defenses.training import fit
(x, y), (xt, yt) = load_dataset("digits"), load_dataset("digits", split="test")
model = build_model("lenet-like", (1, 8, 8), 10); fit(model, x, y, epochs=30, lr=3e-3, batch_size=64)
clf = RetrofitClassifier(model, None, (1, 8, 8), 10, kappa=0.4, gradient="bpda", clip_values=(0, 1))
x_adv = ProjectedGradientDescent(clf, eps=0.1, eps_step=0.025, max_iter=20, verbose=False).generate(xt)
print("clean", (clf.predict(xt).argmax(1) == yt).mean(), "PGD+BPDA", (clf.predict(x_adv).argmax(1) == yt).mean())
