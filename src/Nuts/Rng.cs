namespace Bnn.Onnx.Nuts;

/// <summary>
/// A small deterministic random number generator: xoshiro256** (Blackman &amp; Vigna 2018) seeded through
/// splitmix64. Each chain gets its own stream via <see cref="ForChain"/>: the run's generator advanced by
/// <c>chain</c> jumps of 2^128 steps, so streams never overlap and do not depend on thread timing.
/// Not thread-safe: one instance per chain.
/// </summary>
internal sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpareNormal;

    /// <summary>Seeds the four state words from <paramref name="seed"/> with splitmix64 (as the xoshiro authors recommend).</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>The stream of chain <paramref name="chain"/> (0-based) for run seed <paramref name="seed"/>.</summary>
    public static Rng ForChain(ulong seed, int chain)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chain);
        var rng = new Rng(seed);
        for (int c = 0; c < chain; c++) rng.Jump();
        return rng;
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Rotl(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = Rotl(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = Rotl(_s3, 45);
        return result;
    }

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double NextUniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>A standard normal draw (Marsaglia's polar method; the second value of each pair is kept for the next call).</summary>
    public double NextNormal()
    {
        if (_hasSpareNormal)
        {
            _hasSpareNormal = false;
            return _spareNormal;
        }
        double u, v, s;
        do
        {
            u = 2.0 * NextDouble() - 1.0;
            v = 2.0 * NextDouble() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
        _spareNormal = v * f;
        _hasSpareNormal = true;
        return u * f;
    }

    /// <summary>Fills <paramref name="destination"/> with standard normal draws.</summary>
    public void FillNormal(Span<double> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = NextNormal();
    }

    /// <summary>Advances the stream by 2^128 steps (the xoshiro256 jump polynomial).</summary>
    public void Jump()
    {
        ReadOnlySpan<ulong> jump = [0x180EC6D33CFD0ABAUL, 0xD5A61266F0C9392CUL, 0xA9582618E03FC9AAUL, 0x39ABDC4529B1661CUL];
        ulong s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        foreach (ulong word in jump)
        {
            for (int b = 0; b < 64; b++)
            {
                if ((word & (1UL << b)) != 0)
                {
                    s0 ^= _s0; s1 ^= _s1; s2 ^= _s2; s3 ^= _s3;
                }
                NextUInt64();
            }
        }
        _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
        _hasSpareNormal = false;
    }
}
