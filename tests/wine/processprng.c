/* Test-only stand-in for Windows 10's bcryptprimitives.dll under wine 8, which lacks it: Rust's std
 * imports ProcessPrng from there, so no Rust program starts without it. Exports ProcessPrng over
 * advapi32's RtlGenRandom (SystemFunction036). Built by scripts/wine-run.sh into the wine prefix; never
 * shipped in the bundle. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
