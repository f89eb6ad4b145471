import XCTest

final class RxrayCaptureTestsPlaceholder: XCTestCase {}
