using Bnn.Onnx.Export;

namespace Bnn.Onnx.Tests;

/// <summary>The run record: one serializer for run.json and the draws' bnn.run metadata, read back by one parser.</summary>
public class RunRecordTests
{
    private static RunRecord Completed() => new()
    {
        Status = RunStatus.Completed,
        CommandLine = "sample m.onnx --data d.csv --out run --seed 7",
        Model = "/runs/m.onnx",
        ModelSha256 = "ab12",
        Data = "/runs/d.csv",
        DataSha256 = "cd34",
        Features = ["x1", "x2"],
        Target = "y",
        Seed = 18446744073709551615UL,
        Backend = "cpu",
        Device = "cpu",
        Precision = "float32",
        Settings = new RunSettings
        {
            Likelihood = EnsembleLikelihood.Categorical,
            FixedSigma = null,
            PriorScale = 0.5,
            Priors = ["layer0.*=normal(0,0.5)"],
            Chains = 2,
            Warmup = 150,
            Draws = 100,
            TargetAccept = 0.9,
            MaxDepth = 7,
            Metric = "dense",
            MetricAdaptation = "stan",
            Init = "onnx",
        },
        GradientEvaluations = new GradientEvaluationCounts(1200, 3400, 4600),
        Timing = new RunTiming(0.25, 0.5, 0.875),
        Divergences = 3,
        TreedepthSaturations = 1,
        Chains =
        [
            new ChainRecord(0, 0.125, 100, 2, 1, 0.75, 0.875, [1.5, 0.25, 0.25, 2.0]),
            new ChainRecord(1, 0.0625, 100, 1, 0, null, 0.8125, [1.25, 0.0, 0.0, 1.75]),
        ],
        SummaryThinning = 1,
        Outputs = new RunOutputs("draws.parquet", "summary.csv"),
        Versions = new SoftwareVersions("1.0.0", "10.0.0", "Linux"),
    };

    [Fact]
    public void Given_a_completed_record_When_written_and_read_Then_every_field_comes_back()
    {
        var record = Completed();

        string json = record.ToJson();
        var read = RunRecord.Parse(json, "run.json");

        Assert.Equal(json, read.ToJson());
        Assert.Equal(RunRecord.CurrentVersion, read.Version);
        Assert.Equal(RunStatus.Completed, read.Status);
        Assert.Equal(18446744073709551615UL, read.Seed);
        Assert.Equal(["x1", "x2"], read.Features);
        Assert.Equal(EnsembleLikelihood.Categorical, read.Settings.Likelihood);
        Assert.Null(read.Settings.FixedSigma);
        Assert.Equal(7, read.Settings.MaxDepth);
        Assert.Null(read.Chains![1].EBfmi);
        Assert.Equal([1.5, 0.25, 0.25, 2.0], read.Chains[0].InverseMetric);
        Assert.Equal(new GradientEvaluationCounts(1200, 3400, 4600), read.GradientEvaluations);
    }

    [Fact]
    public void Given_a_record_Then_its_keys_are_snake_case_and_enums_lower_case_words()
    {
        string json = Completed().ToJson();

        foreach (var key in new[] { "\"version\": 1", "\"status\": \"completed\"", "\"model_sha256\"", "\"data_sha256\"", "\"command_line\"",
                     "\"likelihood\": \"categorical\"", "\"fixed_sigma\": null", "\"prior_scale\"", "\"target_accept\"", "\"max_depth\": 7",
                     "\"metric_adaptation\"", "\"gradient_evaluations\"", "\"warmup_seconds\"", "\"treedepth_saturations\"",
                     "\"step_size\"", "\"e_bfmi\": null", "\"mean_accept_stat\"", "\"inverse_metric\"", "\"summary_thinning\": 1" })
            Assert.Contains(key, json);
    }

    [Fact]
    public void Given_a_run_with_the_output_layer_integrated_Then_the_record_says_so_and_older_records_read_false()
    {
        var completed = Completed();
        string json = (completed with { Settings = completed.Settings with { IntegrateOutput = true } }).ToJson();

        Assert.Contains("\"integrate_output\": true", json);
        Assert.True(RunRecord.Parse(json, "run.json").Settings.IntegrateOutput);
        Assert.Contains("\"integrate_output\": false", completed.ToJson());
        Assert.False(RunRecord.Parse(Unversioned("0.3"), "run.json").Settings.IntegrateOutput);
    }

    [Fact]
    public void Given_the_record_written_when_sampling_starts_Then_it_has_no_results()
    {
        var running = Completed() with
        {
            Status = RunStatus.Running, GradientEvaluations = null, Timing = null, Divergences = null, TreedepthSaturations = null,
            Chains = null, SummaryThinning = null,
        };

        string json = running.ToJson();
        var read = RunRecord.Parse(json, "bnn.run");

        Assert.DoesNotContain("timing", json);
        Assert.DoesNotContain("\"chains\": [", json);
        Assert.Equal(RunStatus.Running, read.Status);
        Assert.Null(read.Chains);
        Assert.Equal(json, read.ToJson());
    }

    /// <summary>run.json as bnn wrote it before records had a version: <c>settings.sigma</c> held a fixed σ or the prior's text.</summary>
    private static string Unversioned(string sigma) => $$"""
        {
          "status": "interrupted",
          "command_line": "sample m.onnx",
          "model": "/runs/m.onnx",
          "model_sha256": "ab12",
          "data": "/runs/d.csv",
          "data_sha256": "cd34",
          "features": [
            "x"
          ],
          "target": "y",
          "seed": 7,
          "backend": "torch",
          "device": "cpu",
          "precision": "float64",
          "settings": {
            "likelihood": "normal",
            "sigma": {{sigma}},
            "prior_scale": 1,
            "priors": [],
            "chains": 4,
            "warmup": 1000,
            "draws": 1000,
            "target_accept": 0.8,
            "max_depth": 10,
            "metric": "diag",
            "metric_adaptation": "stan",
            "init": "prior"
          },
          "gradient_evaluations": {
            "warmup": 10,
            "sampling": 20,
            "total": 30
          },
          "timing": {
            "warmup_seconds": 0.5,
            "sampling_seconds": 1.5,
            "total_seconds": 2.5
          },
          "divergences": 0,
          "treedepth_saturations": 0,
          "chains": [
            {
              "chain": 0,
              "step_size": 0.5,
              "draws": 3,
              "divergences": 0,
              "treedepth_saturations": 0,
              "e_bfmi": null,
              "mean_accept_stat": 0.9,
              "inverse_metric": [
                1,
                2
              ]
            }
          ],
          "summary_thinning": 1,
          "outputs": {
            "draws": "draws.parquet",
            "summary": "summary.csv"
          },
          "versions": {
            "bnn": "1.0.0",
            "dotnet": "10.0.0",
            "os": "Linux"
          }
        }
        """;

    [Theory]
    [InlineData("0.3", 0.3)]
    [InlineData("\"LogNormal(0,1)\"", null)]
    public void Given_an_unversioned_run_json_Then_it_reads_as_version_1(string sigma, double? fixedSigma)
    {
        var read = RunRecord.Parse(Unversioned(sigma), "run.json");

        Assert.Equal(RunRecord.CurrentVersion, read.Version);
        Assert.Equal(fixedSigma, read.Settings.FixedSigma);
        Assert.Equal(RunStatus.Interrupted, read.Status);
        Assert.Equal(EnsembleLikelihood.Normal, read.Settings.Likelihood);
        Assert.Equal(7UL, read.Seed);
        Assert.Equal(3, Assert.Single(read.Chains!).Draws);
    }

    [Theory]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"version\": 2}", "newer bnn")]
    [InlineData("{\"version\": \"one\"}", "version is not a whole number")]
    [InlineData("{\"version\": 0}", "version is not a whole number")]
    [InlineData("{\"version\": 1, \"status\": \"completed\"}", "not a valid run record")]
    [InlineData("{not json", "not a valid run record")]
    public void Given_a_file_that_is_not_a_record_Then_one_line_names_it(string json, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => RunRecord.Parse(json, "runs/a/run.json"));

        Assert.StartsWith("runs/a/run.json: ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Given_an_unknown_likelihood_or_a_missing_setting_Then_the_record_is_refused()
    {
        string json = Completed().ToJson();

        Assert.Throws<InvalidDataException>(() => RunRecord.Parse(json.Replace("\"categorical\"", "\"poisson\""), "run.json"));
        Assert.Throws<InvalidDataException>(() => RunRecord.Parse(json.Replace("\"max_depth\": 7,", ""), "run.json"));
        Assert.Throws<InvalidDataException>(() => RunRecord.Parse(json.Replace("\"model\": \"/runs/m.onnx\"", "\"model\": null"), "run.json"));
    }

    [Fact]
    public void Given_a_run_directory_Then_the_draws_own_record_comes_first_then_run_json()
    {
        string dir = Directory.CreateTempSubdirectory("bnn-run-record-").FullName;
        try
        {
            Assert.Null(RunRecord.Load(dir, drawsMetadata: null));

            var file = Completed();
            File.WriteAllText(Path.Combine(dir, RunRecord.FileName), file.ToJson());
            Assert.Equal(file.ToJson(), RunRecord.Load(dir, drawsMetadata: null)!.ToJson());

            var metadata = file with { Seed = 99, Status = RunStatus.Running };
            Assert.Equal(99UL, RunRecord.Load(dir, metadata.ToJson())!.Seed);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
