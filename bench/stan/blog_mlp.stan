// The blog's network in Stan, for the side-by-side benchmark: 1 -> 5 -> 10 -> 1 with softplus activations,
// N(0,1) priors on every weight and bias, sigma ~ LogNormal(0,1), y ~ Normal(f(x), sigma).
// Weights use PyTorch's [out, in] layout, like models/blog_mlp_torch.onnx.
data {
  int<lower=1> N;
  vector[N] x;
  vector[N] y;
  int<lower=1> M;
  vector[M] x_pred;
}
parameters {
  matrix[5, 1] w0;
  vector[5] b0;
  matrix[10, 5] w1;
  vector[10] b1;
  matrix[1, 10] w2;
  vector[1] b2;
  real<lower=0> sigma;
}
model {
  matrix[N, 5] h1 = log1p_exp(x * to_row_vector(w0[, 1]) + rep_matrix(b0', N));
  matrix[N, 10] h2 = log1p_exp(h1 * w1' + rep_matrix(b1', N));
  vector[N] mu = h2 * w2[1]' + b2[1];
  to_vector(w0) ~ std_normal();
  b0 ~ std_normal();
  to_vector(w1) ~ std_normal();
  b1 ~ std_normal();
  to_vector(w2) ~ std_normal();
  b2 ~ std_normal();
  sigma ~ lognormal(0, 1);
  y ~ normal(mu, sigma);
}
generated quantities {
  vector[M] mu_pred;
  {
    matrix[M, 5] g1 = log1p_exp(x_pred * to_row_vector(w0[, 1]) + rep_matrix(b0', M));
    matrix[M, 10] g2 = log1p_exp(g1 * w1' + rep_matrix(b1', M));
    mu_pred = g2 * w2[1]' + b2[1];
  }
}
