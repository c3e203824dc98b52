# Runs one of the Stan models above on the blog's data with rstan and prints one JSON line of results.
# Usage: Rscript run_stan.R MODEL.stan DATA.csv SEED [CHAINS WARMUP DRAWS]
suppressPackageStartupMessages({ library(rstan); library(posterior) })
rstan_options(boost_lib = "/usr/include", auto_write = TRUE)
args <- commandArgs(trailingOnly = TRUE)
model_file <- args[1]; data_file <- args[2]; seed <- as.integer(args[3])
chains <- if (length(args) >= 4) as.integer(args[4]) else 4L
warmup <- if (length(args) >= 5) as.integer(args[5]) else 1000L
draws <- if (length(args) >= 6) as.integer(args[6]) else 1000L
d <- read.csv(data_file)
x_pred <- d$x  # the training inputs, where bnn sample tracks the predictive mean
standata <- list(N = nrow(d), x = d$x, y = d$y, M = length(x_pred), x_pred = x_pred)
t0 <- proc.time()[["elapsed"]]
sm <- stan_model(model_file)
compile_s <- proc.time()[["elapsed"]] - t0
t1 <- proc.time()[["elapsed"]]
fit <- sampling(sm, data = standata, chains = chains, iter = warmup + draws, warmup = warmup,
                seed = seed, cores = 2, refresh = 0)
sampling_s <- proc.time()[["elapsed"]] - t1
sp <- get_sampler_params(fit, inc_warmup = TRUE)
leapfrogs <- sum(sapply(sp, function(s) sum(s[, "n_leapfrog__"])))
post <- lapply(sp, function(s) s[(warmup + 1):(warmup + draws), , drop = FALSE])
divergent <- sum(sapply(post, function(s) sum(s[, "divergent__"])))
depth <- unlist(lapply(post, function(s) s[, "treedepth__"]))
stepsize <- sapply(post, function(s) s[1, "stepsize__"])
dr <- as_draws_array(fit)
summ <- summarise_draws(dr, "mean", "sd", "mcse_mean", "rhat", "ess_bulk", "ess_tail")
pred <- summ[grepl("^mu_pred", summ$variable), ]
weights <- summ[!grepl("^(mu_pred|lp__|sigma)", summ$variable), ]
row <- function(v) summ[summ$variable == v, ]
out <- list(
  engine = "stan", model = basename(model_file), chains = chains, warmup = warmup, draws = draws,
  compile_seconds = compile_s, sampling_seconds = sampling_s,
  gradient_evaluations = leapfrogs, divergences = divergent,
  treedepth_max_fraction = mean(depth >= 10), mean_stepsize = mean(stepsize),
  lp_ess_bulk = row("lp__")$ess_bulk, sigma_mean = row("sigma")$mean, sigma_sd = row("sigma")$sd,
  sigma_ess_bulk = row("sigma")$ess_bulk,
  pred_min_ess_bulk = min(pred$ess_bulk), pred_max_rhat = max(pred$rhat),
  weight_min_ess_bulk = min(weights$ess_bulk), weight_max_rhat = max(weights$rhat),
  sigma_mcse = row("sigma")$mcse_mean, pred_mean = pred$mean, pred_mcse = pred$mcse_mean)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = 10), "\n")
