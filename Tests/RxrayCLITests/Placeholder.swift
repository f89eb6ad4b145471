import XCTest

final class RxrayCLITestsPlaceholder: XCTestCase {}
