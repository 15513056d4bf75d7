/* Wine 8 lacks bcryptprimitives.dll!ProcessPrng, which the Rust standard library (cryptography,
 * pydantic_core) calls for random bytes. This stub goes into the wine prefix's system32 for the
 * build and the smoke tests only: never into the bundle (Windows has the real one). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */

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
