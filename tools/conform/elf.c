/*
 * The exports-only-entry check reads the plugin's dynamic symbol table
 * itself, from the file, with <elf.h>: a plugin must export
 * hydra_plugin_entry and nothing else (lv2lint makes the same check), so
 * that two bots loaded into one process can never bind to each other's
 * symbols. The file is untrusted: every offset is checked against its size.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conform.h"

#define MAX_VERSIONS 16

/* True when [off, off + len) lies inside a file of size bytes. */
static int inside(size_t size, uint64_t off, uint64_t len)
{
    return off <= size && len <= size - off;
}

/* A NUL-terminated string at off in the string table, or NULL. */
static const char *str_at(const unsigned char *file, size_t size, const Elf64_Shdr *strtab, uint64_t off)
{
    const char *s;
    if (off >= strtab->sh_size || !inside(size, strtab->sh_offset, strtab->sh_size))
        return NULL;
    s = (const char *)file + strtab->sh_offset + off;
    if (memchr(s, '\0', strtab->sh_size - off) == NULL)
        return NULL;
    return s;
}

/* Collects the names of the version definitions (HYDRA_1), which appear in .dynsym as absolute symbols. */
static int version_names(const unsigned char *file, size_t size, const Elf64_Shdr *sh, int n_sh,
                         const Elf64_Shdr *verdef, const char **names, int max)
{
    uint64_t off = verdef->sh_offset;
    int n = 0, guard = 0;
    if (verdef->sh_link >= (Elf64_Word)n_sh)
        return 0;
    while (guard++ < 64 && inside(size, off, sizeof(Elf64_Verdef))) {
        Elf64_Verdef vd;
        Elf64_Verdaux va;
        memcpy(&vd, file + off, sizeof vd);
        if (vd.vd_cnt > 0 && inside(size, off + vd.vd_aux, sizeof va) && n < max) {
            const char *name;
            memcpy(&va, file + off + vd.vd_aux, sizeof va);
            name = str_at(file, size, &sh[verdef->sh_link], va.vda_name);
            if (name != NULL)
                names[n++] = name;
        }
        if (vd.vd_next == 0)
            break;
        off += vd.vd_next;
    }
    return n;
}

static int is_version_name(const char *name, const char **versions, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(versions[i], name) == 0)
            return 1;
    return 0;
}

void hydra_conform_check_exports(const conform_opts *o, conform_env *env, conform_result *r)
{
    const unsigned char *file = MAP_FAILED;
    const Elf64_Ehdr *eh;
    Elf64_Shdr sh[512];
    const char *versions[MAX_VERSIONS];
    char extra[600] = "";
    struct stat st;
    size_t size = 0, used = 0;
    int fd, i, n_sh, n_versions = 0, have_entry = 0, n_extra = 0, dynsym = -1;

    (void)env;
    fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot read %s: %s", o->path, strerror(errno));
        goto fail;
    }
    size = (size_t)st.st_size;
    if (size < sizeof(Elf64_Ehdr)) {
        hydra_conform_set(r, CONFORM_FAIL, "%s is %zu bytes, too short for an ELF header", o->path, size);
        goto fail;
    }
    file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot map %s: %s", o->path, strerror(errno));
        goto fail;
    }
    eh = (const Elf64_Ehdr *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "%s is not an ELF file", o->path);
        goto fail;
    }
    if (eh->e_ident[EI_CLASS] != ELFCLASS64) {
        hydra_conform_set(r, CONFORM_SKIP, "%s is not a 64-bit ELF file; only ELF64 is read", o->path);
        goto fail;
    }
    n_sh = eh->e_shnum;
    if (n_sh == 0 || n_sh > (int)(sizeof sh / sizeof sh[0]) || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !inside(size, eh->e_shoff, (uint64_t)n_sh * sizeof(Elf64_Shdr))) {
        hydra_conform_set(r, CONFORM_FAIL, "%s: section header table is missing or out of bounds", o->path);
        goto fail;
    }
    memcpy(sh, file + eh->e_shoff, (size_t)n_sh * sizeof(Elf64_Shdr));
    for (i = 0; i < n_sh; i++) {
        if (sh[i].sh_type == SHT_DYNSYM)
            dynsym = i;
        else if (sh[i].sh_type == SHT_GNU_verdef)
            n_versions += version_names(file, size, sh, n_sh, &sh[i], versions + n_versions,
                                        MAX_VERSIONS - n_versions);
    }
    if (dynsym < 0 || sh[dynsym].sh_link >= (Elf64_Word)n_sh ||
        sh[dynsym].sh_entsize != sizeof(Elf64_Sym) ||
        !inside(size, sh[dynsym].sh_offset, sh[dynsym].sh_size)) {
        hydra_conform_set(r, CONFORM_FAIL, "%s has no readable .dynsym section", o->path);
        goto fail;
    }
    for (i = 1; (uint64_t)i < sh[dynsym].sh_size / sizeof(Elf64_Sym); i++) {
        Elf64_Sym sym;
        const char *name;
        int bind;
        memcpy(&sym, file + sh[dynsym].sh_offset + (size_t)i * sizeof sym, sizeof sym);
        bind = ELF64_ST_BIND(sym.st_info);
        if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE))
            continue;
        name = str_at(file, size, &sh[sh[dynsym].sh_link], sym.st_name);
        if (name == NULL) {
            hydra_conform_set(r, CONFORM_FAIL, "%s: .dynsym entry %d has a name outside its string table",
                              o->path, i);
            goto fail;
        }
        /* The version script's node (HYDRA_1) is an absolute marker, not an export. */
        if (sym.st_shndx == SHN_ABS && is_version_name(name, versions, n_versions))
            continue;
        if (strcmp(name, HYDRA_PLUGIN_ENTRY_SYMBOL) == 0) {
            have_entry = 1;
            continue;
        }
        if (n_extra++ < 8 && used + strlen(name) + 3 < sizeof extra)
            used += (size_t)snprintf(extra + used, sizeof extra - used, "%s%s", used ? ", " : "", name);
    }
    if (n_extra > 0)
        hydra_conform_set(r, CONFORM_FAIL,
                          "exports %d symbol%s besides %s: %s%s (build with -fvisibility=hidden and the SDK's version script)",
                          n_extra, n_extra == 1 ? "" : "s", HYDRA_PLUGIN_ENTRY_SYMBOL, extra,
                          n_extra > 8 ? ", ..." : "");
    else if (!have_entry)
        hydra_conform_set(r, CONFORM_FAIL, "does not export %s", HYDRA_PLUGIN_ENTRY_SYMBOL);
    else
        hydra_conform_set(r, CONFORM_PASS, "exports %s only", HYDRA_PLUGIN_ENTRY_SYMBOL);

fail:
    if (file != MAP_FAILED)
        munmap((void *)file, size);
    if (fd >= 0)
        close(fd);
}

/*
 * For a crash report: the function holding `offset` (an address less the
 * object's load base, which is how .symtab values count in a shared
 * object). .symtab names static functions too; a stripped file has only
 * .dynsym, which names the exports.
 */
int hydra_conform_symbolize(const char *path, uint64_t offset, char *out, size_t outsz)
{
    const unsigned char *file = MAP_FAILED;
    const Elf64_Ehdr *eh;
    Elf64_Shdr sh[512];
    struct stat st;
    size_t size = 0;
    int fd, n_sh, i, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr))
        goto done;
    size = (size_t)st.st_size;
    file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED)
        goto done;
    eh = (const Elf64_Ehdr *)file;
    n_sh = eh->e_shnum;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 || n_sh == 0 ||
        n_sh > (int)(sizeof sh / sizeof sh[0]) || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !inside(size, eh->e_shoff, (uint64_t)n_sh * sizeof(Elf64_Shdr)))
        goto done;
    memcpy(sh, file + eh->e_shoff, (size_t)n_sh * sizeof(Elf64_Shdr));
    for (int pass = 0; pass < 2 && rc != 0; pass++) {
        Elf32_Word want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        for (i = 0; i < n_sh && rc != 0; i++) {
            if (sh[i].sh_type != want || sh[i].sh_link >= (Elf64_Word)n_sh ||
                sh[i].sh_entsize != sizeof(Elf64_Sym) || !inside(size, sh[i].sh_offset, sh[i].sh_size))
                continue;
            for (uint64_t k = 1; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
                Elf64_Sym sym;
                const char *name;
                memcpy(&sym, file + sh[i].sh_offset + k * sizeof sym, sizeof sym);
                if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
                    offset < sym.st_value || offset >= sym.st_value + (sym.st_size ? sym.st_size : 1))
                    continue;
                name = str_at(file, size, &sh[sh[i].sh_link], sym.st_name);
                if (name == NULL || name[0] == '\0')
                    continue;
                snprintf(out, outsz, "%s+0x%llx", name, (unsigned long long)(offset - sym.st_value));
                rc = 0;
                break;
            }
        }
    }

done:
    if (file != MAP_FAILED)
        munmap((void *)file, size);
    if (fd >= 0)
        close(fd);
    return rc;
}
