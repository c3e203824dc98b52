using System.Text;
using Bnn.Onnx.Build;

namespace Bnn.Onnx.Tests;

/// <summary>Builds small ELF64 shared-object images with symbol-versioning sections, laid out as <c>ld</c> does.</summary>
internal static class SyntheticElf
{
    /// <summary>
    /// A file needing GLIBCXX_3.4.32 (index 2) and GLIBCXX_3.4.30 (index 3) from libstdc++.so.6 and GLIBC_2.34
    /// (index 4) from libc.so.6, with dynamic symbols bound as <paramref name="symbols"/> says.
    /// </summary>
    public static byte[] Build(params (string Name, ushort VersionIndex)[] symbols)
    {
        var strings = new MemoryStream();
        var offsets = new Dictionary<string, uint>();
        strings.WriteByte(0);
        uint Intern(string s)
        {
            if (offsets.TryGetValue(s, out var o)) return o;
            o = (uint)strings.Length;
            var b = Encoding.ASCII.GetBytes(s);
            strings.Write(b);
            strings.WriteByte(0);
            offsets[s] = o;
            return o;
        }

        // .gnu.version_r: Verneed { version, cnt, file, aux, next } then its Vernaux { hash, flags, other, name, next }.
        var verneed = new MemoryStream();
        using var vw = new BinaryWriter(verneed);
        (string File, (string Version, ushort Index)[] Aux)[] needs =
        [
            ("libstdc++.so.6", [("GLIBCXX_3.4.32", 2), ("GLIBCXX_3.4.30", 3)]),
            ("libc.so.6", [("GLIBC_2.34", 4)]),
        ];
        for (int n = 0; n < needs.Length; n++)
        {
            var (file, aux) = needs[n];
            int size = 16 + 16 * aux.Length;
            vw.Write((ushort)1);
            vw.Write((ushort)aux.Length);
            vw.Write(Intern(file));
            vw.Write(16u);
            vw.Write(n == needs.Length - 1 ? 0u : (uint)size);
            for (int k = 0; k < aux.Length; k++)
            {
                vw.Write(0x12345678u + (uint)k);
                vw.Write((ushort)0);
                vw.Write(aux[k].Index);
                vw.Write(Intern(aux[k].Version));
                vw.Write(k == aux.Length - 1 ? 0u : 16u);
            }
        }

        var dynsym = new MemoryStream();
        using var dw = new BinaryWriter(dynsym);
        var versym = new MemoryStream();
        using var sw = new BinaryWriter(versym);
        dw.Write(new byte[24]);
        sw.Write((ushort)0);
        foreach (var (name, index) in symbols)
        {
            dw.Write(Intern(name));
            dw.Write((byte)0x12); // STB_GLOBAL, STT_FUNC
            dw.Write((byte)0);
            dw.Write((ushort)0); // SHN_UNDEF
            dw.Write(0ul);
            dw.Write(0ul);
            sw.Write(index);
        }

        byte[][] bodies = [strings.ToArray(), verneed.ToArray(), dynsym.ToArray(), versym.ToArray()];
        // Section index: 0 null, 1 .dynstr, 2 .gnu.version_r, 3 .dynsym, 4 .gnu.version.
        (uint Type, uint Link, uint Info, ulong EntrySize)[] headers =
        [
            (3, 0, 0, 0),
            (0x6ffffffe, 1, (uint)needs.Length, 0),
            (11, 1, 1, 24),
            (0x6fffffff, 3, 0, 2),
        ];

        var image = new MemoryStream();
        using var w = new BinaryWriter(image);
        w.Write(new byte[64]);
        var sectionOffsets = new long[bodies.Length];
        for (int i = 0; i < bodies.Length; i++)
        {
            while (image.Length % 8 != 0) w.Write((byte)0);
            sectionOffsets[i] = image.Length;
            w.Write(bodies[i]);
        }
        while (image.Length % 8 != 0) w.Write((byte)0);
        long shoff = image.Length;
        w.Write(new byte[64]);
        for (int i = 0; i < bodies.Length; i++)
        {
            w.Write(0u);
            w.Write(headers[i].Type);
            w.Write(0ul);
            w.Write(0ul);
            w.Write((ulong)sectionOffsets[i]);
            w.Write((ulong)bodies[i].Length);
            w.Write(headers[i].Link);
            w.Write(headers[i].Info);
            w.Write(8ul);
            w.Write(headers[i].EntrySize);
        }

        var bytes = image.ToArray();
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = 2; bytes[5] = 1; bytes[6] = 1;
        bytes[16] = 3; // ET_DYN
        bytes[18] = 62; // EM_X86_64
        BitConverter.GetBytes((ulong)shoff).CopyTo(bytes, 0x28);
        BitConverter.GetBytes((ushort)64).CopyTo(bytes, 0x3A);
        BitConverter.GetBytes((ushort)(bodies.Length + 1)).CopyTo(bytes, 0x3C);
        return bytes;
    }

    public static byte[] TorchSharpLike() =>
        Build((GlibcxxCompat.IosBaseLibraryInit, 2), ("_Znwm", 3), ("memcpy", 4));
}

public class GlibcxxCompatTests
{
    private static readonly string[] Allowed = [GlibcxxCompat.IosBaseLibraryInit];

    [Fact]
    public void Reads_every_version_need_with_its_library_and_index()
    {
        var elf = new ElfFile(SyntheticElf.TorchSharpLike(), "synthetic");

        var needs = elf.VersionNeeds();

        Assert.Equal(
            ["libstdc++.so.6:GLIBCXX_3.4.32", "libstdc++.so.6:GLIBCXX_3.4.30", "libc.so.6:GLIBC_2.34"],
            needs.Select(n => n.ToString()));
        Assert.Equal([2, 3, 4], needs.Select(n => (int)n.Index));
        Assert.Equal([GlibcxxCompat.IosBaseLibraryInit], elf.SymbolsWithVersionIndex(2));
        Assert.Equal(["_Znwm"], elf.SymbolsWithVersionIndex(3));
    }

    [Fact]
    public void Weakening_sets_the_weak_flag_on_that_need_only_and_changes_one_byte()
    {
        var original = SyntheticElf.TorchSharpLike();
        var bytes = (byte[])original.Clone();

        var outcome = GlibcxxCompat.WeakenVersionNeed(bytes, "synthetic", "GLIBCXX_3.4.32", Allowed);

        Assert.Equal(WeakenOutcome.Weakened, outcome);
        var before = new ElfFile(original, "before").VersionNeeds();
        var after = new ElfFile(bytes, "after").VersionNeeds();
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Version, after[i].Version);
            Assert.Equal(before[i].Index, after[i].Index);
            int expectedFlags = before[i].Version == "GLIBCXX_3.4.32" ? before[i].Flags | ElfFile.VerFlagWeak : before[i].Flags;
            Assert.Equal(expectedFlags, after[i].Flags);
        }
        var changed = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != original[i]).ToArray();
        Assert.Equal([(int)before[0].FlagsOffset], changed);
    }

    [Fact]
    public void A_second_run_is_a_no_op()
    {
        var bytes = SyntheticElf.TorchSharpLike();
        GlibcxxCompat.WeakenVersionNeed(bytes, "synthetic", "GLIBCXX_3.4.32", Allowed);
        var once = (byte[])bytes.Clone();

        var outcome = GlibcxxCompat.WeakenVersionNeed(bytes, "synthetic", "GLIBCXX_3.4.32", Allowed);

        Assert.Equal(WeakenOutcome.AlreadyWeak, outcome);
        Assert.Equal(once, bytes);
    }

    [Fact]
    public void A_version_the_file_does_not_need_leaves_it_untouched()
    {
        var bytes = SyntheticElf.TorchSharpLike();
        var original = (byte[])bytes.Clone();

        Assert.Equal(WeakenOutcome.NotNeeded, GlibcxxCompat.WeakenVersionNeed(bytes, "synthetic", "GLIBCXX_3.4.33", Allowed));
        Assert.Equal(original, bytes);
    }

    [Fact]
    public void A_need_that_a_real_symbol_depends_on_is_refused()
    {
        var bytes = SyntheticElf.Build((GlibcxxCompat.IosBaseLibraryInit, 2), ("_ZNSt7__cxx1112basic_stringC1Ev", 2));
        var original = (byte[])bytes.Clone();

        var e = Assert.Throws<InvalidDataException>(() => GlibcxxCompat.WeakenVersionNeed(bytes, "lib.so", "GLIBCXX_3.4.32", Allowed));

        Assert.Contains("_ZNSt7__cxx1112basic_stringC1Ev", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(original, bytes);
    }

    [Theory]
    [InlineData("not an ELF file")]
    [InlineData("")]
    public void A_non_ELF_file_is_refused_with_one_line_and_left_unchanged(string content)
    {
        var path = Path.Combine(Path.GetTempPath(), "bnn-elf-" + Guid.NewGuid().ToString("N") + ".so");
        File.WriteAllText(path, content);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => GlibcxxCompat.WeakenVersionNeedInFile(path, "GLIBCXX_3.4.32", Allowed));

            Assert.Contains("is not an ELF file", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Equal(content, File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_32_bit_or_truncated_ELF_file_is_refused()
    {
        var bytes = SyntheticElf.TorchSharpLike();
        var elf32 = (byte[])bytes.Clone();
        elf32[4] = 1;
        Assert.Throws<InvalidDataException>(() => new ElfFile(elf32, "elf32"));
        Assert.Throws<InvalidDataException>(() => new ElfFile(bytes[..200], "truncated"));
    }

    [Fact]
    public void Patching_through_a_symbolic_link_replaces_the_link_and_leaves_its_target_alone()
    {
        if (!OperatingSystem.IsLinux()) return;
        var dir = Directory.CreateTempSubdirectory("bnn-elf-");
        try
        {
            var cache = Path.Combine(dir.FullName, "cache.so");
            var output = Path.Combine(dir.FullName, "output.so");
            var original = SyntheticElf.TorchSharpLike();
            File.WriteAllBytes(cache, original);
            File.SetUnixFileMode(cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead);
            File.CreateSymbolicLink(output, cache);

            var first = GlibcxxCompat.WeakenVersionNeedInFile(output, "GLIBCXX_3.4.32", Allowed);
            var second = GlibcxxCompat.WeakenVersionNeedInFile(output, "GLIBCXX_3.4.32", Allowed);

            Assert.Equal(WeakenOutcome.Weakened, first);
            Assert.Equal(WeakenOutcome.AlreadyWeak, second);
            Assert.Equal(original, File.ReadAllBytes(cache));
            Assert.Null(new FileInfo(output).LinkTarget);
            Assert.True(ElfFile.Read(output).VersionNeeds()[0].IsWeak);
            Assert.Equal(File.GetUnixFileMode(cache), File.GetUnixFileMode(output));
            Assert.Equal(File.GetLastWriteTimeUtc(cache), File.GetLastWriteTimeUtc(output));
            Assert.Equal(2, dir.GetFiles().Length);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_system_libstdcxx_is_found_and_its_version_definitions_are_read()
    {
        if (!OperatingSystem.IsLinux()) return;
        var libstdcxx = GlibcxxCompat.FindSystemLibStdCxx();
        Assert.NotNull(libstdcxx);

        var versions = ElfFile.Read(libstdcxx).VersionDefinitions();

        Assert.Contains("GLIBCXX_3.4", versions);
        Assert.Contains("CXXABI_1.3", versions);
        Assert.DoesNotContain("GLIBCXX_99.0", versions);
    }

    [Fact]
    public void The_build_output_copy_is_patched_exactly_when_the_system_needs_it_and_the_package_copy_never()
    {
        if (!OperatingSystem.IsLinux()) return;
        var output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(output), $"{output} is missing from the build output");
        var libstdcxx = GlibcxxCompat.FindSystemLibStdCxx()!;
        bool systemHasIt = GlibcxxCompat.DefinesVersion(libstdcxx, GlibcxxCompat.TorchSharpVersion);

        var need = ElfFile.Read(output).VersionNeeds().Single(n => n.Version == GlibcxxCompat.TorchSharpVersion);

        Assert.Equal(!systemHasIt, need.IsWeak);
        Assert.Equal([GlibcxxCompat.IosBaseLibraryInit], ElfFile.Read(output).SymbolsWithVersionIndex(need.Index));

        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cached = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (File.Exists(cached))
            Assert.False(ElfFile.Read(cached).VersionNeeds().Single(n => n.Version == GlibcxxCompat.TorchSharpVersion).IsWeak);
    }
}
