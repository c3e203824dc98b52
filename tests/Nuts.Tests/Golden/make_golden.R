# Golden values for the convergence diagnostics, computed by the R package posterior 1.4.0.
#
# Run from this folder:  Rscript make_golden.R
# Writes, for each (chains x draws) case, draws_<chains>x<draws>.csv (long format: chain, iteration, one column per
# variable, 17 significant digits) and expected_<chains>x<draws>.csv (one row per variable, 17 significant digits,
# NA where posterior gives NA). Expected values are computed from the draws as read back from the written file.
#
# The cases cover split chains whose length is and is not 2*3*5-smooth (posterior pads the FFT to nextn(N) but
# normalises the autocovariance by its lag-0 value), odd lengths (the middle draw is dropped when splitting),
# 1, 3 and 4 chains, ties, near-constant draws and a chain that never moves.

suppressMessages(library(posterior))
stopifnot(packageVersion("posterior") == "1.4.0")

cases <- list(
  c(chains = 4, draws = 99),
  c(chains = 4, draws = 350),
  c(chains = 3, draws = 701),
  c(chains = 3, draws = 999),
  c(chains = 4, draws = 1000),
  c(chains = 1, draws = 203),
  c(chains = 2, draws = 10)
)

ar1 <- function(n, phi, innovation) {
  x <- numeric(n)
  x[1] <- innovation(1) / sqrt(1 - phi^2)
  for (t in 2:n) x[t] <- phi * x[t - 1] + innovation(1)
  x
}

# Each generator returns an n x chains matrix.
generators <- list(
  iid = function(n, m) matrix(rnorm(n * m), n, m),
  ar09 = function(n, m) sapply(seq_len(m), function(c) ar1(n, 0.9, rnorm)),
  ar05t_shift = function(n, m) sapply(seq_len(m), function(c) ar1(n, 0.5, function(k) rt(k, df = 3)) + (c == m) * 0.7),
  lognormal_ar07 = function(n, m) sapply(seq_len(m), function(c) exp(ar1(n, 0.7, rnorm))),
  # Heavy ties: an AR(1) rounded to one decimal, and Poisson counts.
  rounded = function(n, m) sapply(seq_len(m), function(c) round(ar1(n, 0.6, rnorm), 1)),
  counts = function(n, m) matrix(as.numeric(rpois(n * m, 0.7)), n, m),
  # Near-constant: a tiny spread around a large value.
  near_constant = function(n, m) matrix(1e3 + 1e-9 * rnorm(n * m), n, m),
  # One chain never moves (its split halves have zero variance).
  stuck_chain = function(n, m) {
    x <- matrix(rnorm(n * m), n, m)
    x[, 1] <- 0.25
    x
  },
  # Mostly one value with a few distinct draws.
  mostly_zero = function(n, m) {
    x <- matrix(0, n, m)
    k <- max(3, n * m %/% 20)
    x[sample.int(n * m, k)] <- rexp(k)
    x
  }
)

fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))

summarise_matrix <- function(x) {
  q <- quantile2(x, probs = c(0.05, 0.5, 0.95))
  eq <- ess_quantile(x, probs = c(0.05, 0.5, 0.95))
  c(
    mean = mean(x), sd = sd(x), median = median(x), q5 = q[["q5"]], q50 = q[["q50"]], q95 = q[["q95"]],
    mcse_mean = mcse_mean(x), mcse_sd = mcse_sd(x),
    ess_bulk = ess_bulk(x), ess_tail = ess_tail(x), rhat = rhat(x),
    rhat_basic = rhat_basic(x), ess_mean = ess_mean(x), ess_sd = ess_sd(x),
    ess_q05 = eq[[1]], ess_median = eq[[2]], ess_q95 = eq[[3]]
  )
}

set.seed(20211115)
for (case in cases) {
  m <- case[["chains"]]
  n <- case[["draws"]]
  name <- sprintf("%dx%d", m, n)
  columns <- lapply(generators, function(g) g(n, m))

  long <- data.frame(chain = rep(seq_len(m), each = n), iteration = rep(seq_len(n), times = m))
  for (v in names(columns)) long[[v]] <- fmt(as.vector(columns[[v]]))
  draws_file <- sprintf("draws_%s.csv", name)
  write.csv(long, draws_file, row.names = FALSE, quote = FALSE)

  back <- read.csv(draws_file)
  rows <- lapply(names(columns), function(v) {
    x <- matrix(back[[v]], n, m) # column c holds chain c in iteration order
    suppressWarnings(summarise_matrix(x))
  })
  expected <- data.frame(variable = names(columns))
  for (col in names(rows[[1]])) expected[[col]] <- fmt(sapply(rows, function(r) r[[col]]))
  write.csv(expected, sprintf("expected_%s.csv", name), row.names = FALSE, quote = FALSE)
  cat(name, "\n")
}
