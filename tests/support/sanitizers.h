#pragma once
// Whether this test (and so the edgeguard binary beside it, built the same way) runs under a
// sanitizer. Shadow memory and the freed-memory quarantine make RSS and allocator figures say
// nothing about what the code holds, so memory bounds are only checked without one.
namespace edgeguard::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace edgeguard::testing
