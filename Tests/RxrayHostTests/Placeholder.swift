import XCTest

final class RxrayHostTestsPlaceholder: XCTestCase {}
