import XCTest

final class RxrayDecodeTestsPlaceholder: XCTestCase {}
