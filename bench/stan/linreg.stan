// The blog's linear regression: alpha, beta ~ N(0,1), sigma ~ LogNormal(0,1), y ~ Normal(alpha + beta x, sigma).
data {
  int<lower=1> N;
  vector[N] x;
  vector[N] y;
  int<lower=1> M;
  vector[M] x_pred;
}
parameters {
  real alpha;
  real beta;
  real<lower=0> sigma;
}
model {
  alpha ~ std_normal();
  beta ~ std_normal();
  sigma ~ lognormal(0, 1);
  y ~ normal(alpha + beta * x, sigma);
}
generated quantities {
  vector[M] mu_pred = alpha + beta * x_pred;
}
