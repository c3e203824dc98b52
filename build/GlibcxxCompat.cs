// Marks a libstdc++ symbol-version requirement that the system cannot satisfy as weak in an ELF64 shared
// library, so that the dynamic loader accepts the library.
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so is linked against GCC 13's libstdc++ and lists GLIBCXX_3.4.32
// among its version needs. Debian 12 ships GCC 12's libstdc++ (up to GLIBCXX_3.4.30), so dlopen fails and
// TorchSharp reports a misleading "doesn't contain a reference to libtorch-cpu-linux-x64". The only symbol
// bound to that version is _ZSt21ios_base_library_initv, which GCC 13 references from every translation unit
// that includes <iostream> (a link-time marker, no relocation calls it). A Vernaux entry flagged
// VER_FLG_WEAK (0x2) makes glibc's loader accept a missing version (elf/dl-version.c, match_symbol: a weak
// need that is not found is not an error) — the same thing `ld` emits for weak version references.
//
// ELF layout: System V gABI ch. 4 (section header table) and the LSB "Symbol Versioning" chapter
// (.gnu.version_r = Verneed/Vernaux, .gnu.version_d = Verdef/Verdaux, .gnu.version = Versym).
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (build/GlibcxxCompat.targets, against
// netstandard, so it uses no Span or newer APIs) and by the unit tests (with BNN_NO_MSBUILD_TASK defined).
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace Bnn.Onnx.Build
{
    /// <summary>One Vernaux entry of <c>.gnu.version_r</c>: a version the file needs from a library.</summary>
    public sealed class ElfVersionNeed
    {
        public ElfVersionNeed(string file, string version, ushort flags, ushort index, long flagsOffset)
        {
            File = file;
            Version = version;
            Flags = flags;
            Index = index;
            FlagsOffset = flagsOffset;
        }

        /// <summary>The library the version is needed from (vn_file), e.g. <c>libstdc++.so.6</c>.</summary>
        public string File { get; }

        /// <summary>The version name (vna_name), e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string Version { get; }

        /// <summary>vna_flags; bit <see cref="ElfFile.VerFlagWeak"/> marks a weak need.</summary>
        public ushort Flags { get; }

        /// <summary>vna_other: the version index that <c>.gnu.version</c> entries use to refer to this need.</summary>
        public ushort Index { get; }

        /// <summary>The file offset of vna_flags.</summary>
        public long FlagsOffset { get; }

        public bool IsWeak => (Flags & ElfFile.VerFlagWeak) != 0;

        public override string ToString() => File + ":" + Version + (IsWeak ? " (weak)" : "");
    }

    /// <summary>
    /// A read-only view of an ELF64 little-endian file's section headers and symbol-versioning sections.
    /// Construction validates the header and throws <see cref="InvalidDataException"/> with one line otherwise.
    /// </summary>
    public sealed class ElfFile
    {
        public const ushort VerFlagWeak = 0x2;
        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;

        private readonly byte[] _bytes;
        private readonly string _name;
        private readonly List<Section> _sections = new List<Section>();

        private sealed class Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
            public long EntrySize;
        }

        public ElfFile(byte[] bytes, string name)
        {
            _bytes = bytes;
            _name = name;
            if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                throw new InvalidDataException(name + " is not an ELF file");
            if (bytes[4] != 2 || bytes[5] != 1)
                throw new InvalidDataException(name + " is not a 64-bit little-endian ELF file");

            long shoff = (long)U64(0x28);
            int shentsize = U16(0x3A);
            int shnum = U16(0x3C);
            if (shnum == 0 || shoff == 0)
                throw new InvalidDataException(name + " has no section header table");
            if (shentsize < 64 || shoff < 0 || shoff + (long)shnum * shentsize > bytes.Length)
                throw new InvalidDataException(name + ": section header table lies outside the file");

            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                var s = new Section
                {
                    Type = U32(h + 4),
                    Offset = (long)U64(h + 24),
                    Size = (long)U64(h + 32),
                    Link = U32(h + 40),
                    Info = U32(h + 44),
                    EntrySize = (long)U64(h + 56),
                };
                // SHT_NOBITS (8) occupies no file space; everything else must lie inside the file.
                if (s.Type != 8 && (s.Offset < 0 || s.Size < 0 || s.Offset + s.Size > bytes.Length))
                    throw new InvalidDataException(name + ": section " + i + " lies outside the file");
                _sections.Add(s);
            }
        }

        public static ElfFile Read(string path) => new ElfFile(System.IO.File.ReadAllBytes(path), path);

        /// <summary>The file's bytes (the same array the instance reads; patch through <see cref="GlibcxxCompat"/>).</summary>
        public byte[] Bytes => _bytes;

        /// <summary>Every Vernaux entry of <c>.gnu.version_r</c> in file order (empty when the section is absent).</summary>
        public List<ElfVersionNeed> VersionNeeds()
        {
            var result = new List<ElfVersionNeed>();
            foreach (var s in _sections)
            {
                if (s.Type != ShtGnuVerneed) continue;
                var strtab = StringTable(s.Link);
                long vn = s.Offset;
                // sh_info holds the number of Verneed entries.
                for (uint n = 0; n < s.Info; n++)
                {
                    Check(vn, 16, s);
                    int count = U16(vn + 2);
                    string file = Str(strtab, U32(vn + 4));
                    long aux = vn + U32(vn + 8);
                    for (int k = 0; k < count; k++)
                    {
                        Check(aux, 16, s);
                        ushort flags = U16(aux + 4);
                        ushort other = U16(aux + 6);
                        string version = Str(strtab, U32(aux + 8));
                        result.Add(new ElfVersionNeed(file, version, flags, other, aux + 4));
                        uint nextAux = U32(aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(vn + 12);
                    if (next == 0) break;
                    vn += next;
                }
            }
            return result;
        }

        /// <summary>Every version name this file defines in <c>.gnu.version_d</c> (for a library such as libstdc++).</summary>
        public List<string> VersionDefinitions()
        {
            var result = new List<string>();
            foreach (var s in _sections)
            {
                if (s.Type != ShtGnuVerdef) continue;
                var strtab = StringTable(s.Link);
                long vd = s.Offset;
                for (uint n = 0; n < s.Info; n++)
                {
                    Check(vd, 20, s);
                    int count = U16(vd + 6);
                    long aux = vd + U32(vd + 12);
                    // The first Verdaux names the version itself; the rest name its predecessors.
                    if (count > 0)
                    {
                        Check(aux, 8, s);
                        result.Add(Str(strtab, U32(aux)));
                    }
                    uint next = U32(vd + 16);
                    if (next == 0) break;
                    vd += next;
                }
            }
            return result;
        }

        /// <summary>The names of dynamic symbols whose <c>.gnu.version</c> entry is <paramref name="versionIndex"/>.</summary>
        public List<string> SymbolsWithVersionIndex(ushort versionIndex)
        {
            var result = new List<string>();
            Section? versym = null, dynsym = null;
            foreach (var s in _sections)
            {
                if (s.Type == ShtGnuVersym) versym = s;
                if (s.Type == ShtDynsym) dynsym = s;
            }
            if (versym == null || dynsym == null) return result;
            var strtab = StringTable(dynsym.Link);
            long entry = dynsym.EntrySize > 0 ? dynsym.EntrySize : 24;
            long count = Math.Min(dynsym.Size / entry, versym.Size / 2);
            for (long i = 0; i < count; i++)
            {
                // Bit 15 of a Versym entry is the "hidden" flag, not part of the index.
                int index = U16(versym.Offset + 2 * i) & 0x7fff;
                if (index == versionIndex)
                    result.Add(Str(strtab, U32(dynsym.Offset + i * entry)));
            }
            return result;
        }

        private Section StringTable(uint index)
        {
            if (index >= _sections.Count || _sections[(int)index].Type != 3)
                throw new InvalidDataException(_name + ": section " + index + " is not a string table");
            return _sections[(int)index];
        }

        private string Str(Section strtab, uint offset)
        {
            if (offset >= strtab.Size)
                throw new InvalidDataException(_name + ": string offset " + offset + " lies outside its string table");
            long start = strtab.Offset + offset;
            long end = start;
            long limit = strtab.Offset + strtab.Size;
            while (end < limit && _bytes[end] != 0) end++;
            return Encoding.ASCII.GetString(_bytes, (int)start, (int)(end - start));
        }

        private void Check(long offset, int length, Section s)
        {
            if (offset < s.Offset || offset + length > s.Offset + s.Size)
                throw new InvalidDataException(_name + ": a version entry lies outside its section");
        }

        private ushort U16(long o) => (ushort)(_bytes[o] | (_bytes[o + 1] << 8));

        private uint U32(long o) => (uint)(_bytes[o] | (_bytes[o + 1] << 8) | (_bytes[o + 2] << 16) | (_bytes[o + 3] << 24));

        private ulong U64(long o) => U32(o) | ((ulong)U32(o + 4) << 32);
    }

    /// <summary>What <see cref="GlibcxxCompat.WeakenVersionNeed"/> did.</summary>
    public enum WeakenOutcome
    {
        /// <summary>The need was strong and is now weak (the file was rewritten).</summary>
        Weakened,

        /// <summary>The need was already weak; the file was not touched.</summary>
        AlreadyWeak,

        /// <summary>The file does not need that version; the file was not touched.</summary>
        NotNeeded,
    }

    /// <summary>The libstdc++ compatibility fix: detection on the system, and the patch of one library copy.</summary>
    public static class GlibcxxCompat
    {
        /// <summary>The version TorchSharp 0.107.0's native library needs and Debian 12 lacks.</summary>
        public const string TorchSharpVersion = "GLIBCXX_3.4.32";

        /// <summary>The only symbol that TorchSharp's library binds to <see cref="TorchSharpVersion"/>; it is never called.</summary>
        public const string IosBaseLibraryInit = "_ZSt21ios_base_library_initv";

        /// <summary>
        /// Marks every need for <paramref name="version"/> in <paramref name="bytes"/> weak, in place.
        /// Refuses (<see cref="InvalidDataException"/>) when a symbol outside <paramref name="allowedSymbols"/> is bound
        /// to that version, since such a symbol would then fail to resolve at run time instead of at load time.
        /// </summary>
        public static WeakenOutcome WeakenVersionNeed(byte[] bytes, string name, string version, ICollection<string> allowedSymbols)
        {
            var elf = new ElfFile(bytes, name);
            var needs = elf.VersionNeeds().FindAll(n => n.Version == version);
            if (needs.Count == 0) return WeakenOutcome.NotNeeded;
            if (needs.TrueForAll(n => n.IsWeak)) return WeakenOutcome.AlreadyWeak;
            foreach (var need in needs)
            {
                foreach (var symbol in elf.SymbolsWithVersionIndex(need.Index))
                {
                    if (!allowedSymbols.Contains(symbol))
                        throw new InvalidDataException(name + ": symbol " + symbol + " needs " + version + ", so that need cannot be made weak");
                }
            }
            foreach (var need in needs)
            {
                ushort flags = (ushort)(need.Flags | ElfFile.VerFlagWeak);
                bytes[need.FlagsOffset] = (byte)flags;
                bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
            }
            return WeakenOutcome.Weakened;
        }

        /// <summary>
        /// Patches the file at <paramref name="path"/>. When it changes, the new bytes are written to a temporary file
        /// that then replaces the directory entry, so a hard or symbolic link into the NuGet cache is never written
        /// through; the original modification time is kept so that MSBuild's incremental copy sees the file as current.
        /// </summary>
        public static WeakenOutcome WeakenVersionNeedInFile(string path, string version, ICollection<string> allowedSymbols)
        {
            var bytes = File.ReadAllBytes(path);
            var outcome = WeakenVersionNeed(bytes, path, version, allowedSymbols);
            if (outcome != WeakenOutcome.Weakened) return outcome;

            // The time of the file itself, not of a link to it: MSBuild compares the cache file's time with this one.
            DateTime lastWrite = new FileInfo(FinalTarget(path)).LastWriteTimeUtc;
            string temporary = path + ".weaken-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            // Copying first keeps the file mode; the patched bytes then overwrite the copy (same length).
            File.Copy(path, temporary);
            try
            {
                using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.Write))
                    stream.Write(bytes, 0, bytes.Length);
                File.SetLastWriteTimeUtc(temporary, lastWrite);
                // Delete-then-move replaces the link itself, never the file it points to.
                File.Delete(path);
                File.Move(temporary, path);
            }
            catch
            {
                if (File.Exists(temporary)) File.Delete(temporary);
                throw;
            }
            return outcome;
        }

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        private static extern long readlink(string path, byte[] buffer, ulong size);

        /// <summary>The file a chain of symbolic links ends at; the path itself when it is not a link.</summary>
        private static string FinalTarget(string path)
        {
            for (int hops = 0; hops < 40; hops++)
            {
                if ((File.GetAttributes(path) & FileAttributes.ReparsePoint) == 0) return path;
                var buffer = new byte[4096];
                long length = readlink(path, buffer, (ulong)buffer.Length);
                if (length <= 0) return path;
                string target = System.Text.Encoding.UTF8.GetString(buffer, 0, (int)length);
                path = Path.IsPathRooted(target) ? target : Path.Combine(Path.GetDirectoryName(path) ?? ".", target);
            }
            return path;
        }

        /// <summary>Places where Debian/Ubuntu/Fedora-style systems keep the C++ runtime, in search order.</summary>
        public static readonly string[] LibStdCxxCandidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };

        /// <summary>The C++ runtime the loader would pick: the first existing candidate, else what <c>ldconfig -p</c> lists; null if none.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (var candidate in LibStdCxxCandidates)
                if (File.Exists(candidate)) return candidate;
            try
            {
                var start = new ProcessStartInfo("ldconfig", "-p")
                {
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                    CreateNoWindow = true,
                };
                using (var process = Process.Start(start))
                {
                    if (process == null) return null;
                    string output = process.StandardOutput.ReadToEnd();
                    process.WaitForExit();
                    foreach (var line in output.Split('\n'))
                    {
                        // "	libstdc++.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libstdc++.so.6"
                        if (!line.TrimStart().StartsWith("libstdc++.so.6 ", StringComparison.Ordinal) || !line.Contains("x86-64")) continue;
                        int arrow = line.IndexOf("=> ", StringComparison.Ordinal);
                        if (arrow >= 0) return line.Substring(arrow + 3).Trim();
                    }
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // No ldconfig on PATH.
            }
            return null;
        }

        /// <summary>Whether the library at <paramref name="libraryPath"/> defines <paramref name="version"/> (.gnu.version_d).</summary>
        public static bool DefinesVersion(string libraryPath, string version) =>
            ElfFile.Read(libraryPath).VersionDefinitions().Contains(version);
    }

#if !BNN_NO_MSBUILD_TASK
    /// <summary>
    /// MSBuild task: for each library in <c>Files</c> that needs <c>Version</c> strongly, and only when the system's
    /// libstdc++ does not define it, marks that need weak (see the top of this file). Safe to run on every build.
    /// </summary>
    public sealed class WeakenMissingGlibcxxVersion : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public string Version { get; set; } = GlibcxxCompat.TorchSharpVersion;

        /// <summary>Semicolon-separated symbols allowed to be bound to <see cref="Version"/>.</summary>
        public string AllowedSymbols { get; set; } = GlibcxxCompat.IosBaseLibraryInit;

        /// <summary>Overrides the system C++ runtime to check (tests, cross builds).</summary>
        public string? LibStdCxxPath { get; set; }

        public override bool Execute()
        {
            if (Files.Length == 0) return true;
            string? libstdcxx = string.IsNullOrEmpty(LibStdCxxPath) ? GlibcxxCompat.FindSystemLibStdCxx() : LibStdCxxPath;
            if (libstdcxx == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "libstdc++.so.6 not found; TorchSharp's native library left as is");
                return true;
            }
            try
            {
                if (GlibcxxCompat.DefinesVersion(libstdcxx, Version))
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, libstdcxx + " defines " + Version + "; nothing to patch");
                    return true;
                }
            }
            catch (InvalidDataException e)
            {
                Log.LogWarning("cannot read the system C++ runtime: " + e.Message);
                return true;
            }

            var allowed = new HashSet<string>(AllowedSymbols.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
            foreach (var item in Files)
            {
                string path = item.ItemSpec;
                try
                {
                    var outcome = GlibcxxCompat.WeakenVersionNeedInFile(path, Version, allowed);
                    if (outcome == WeakenOutcome.Weakened)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                            "marked the " + Version + " need of " + path + " weak (" + libstdcxx + " lacks it)");
                }
                catch (Exception e) when (e is InvalidDataException || e is IOException || e is UnauthorizedAccessException)
                {
                    Log.LogError("cannot patch " + path + " for the system libstdc++: " + e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
