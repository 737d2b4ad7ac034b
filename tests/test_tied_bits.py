"""Which bits the coverage report leaves out as tied to constants (sense_verif.tied_bits)."""

from sense_verif.tied_bits import tied_bits

VERILOG = """\
module top(clk, a, y);
  input clk;
  wire clk;
  input [3:0] a;
  wire [3:0] a;
  output [7:0] y;
  wire [7:0] y;
  wire [7:0] status;
  wire [7:0] copy;
  wire [3:0] k_out;
  assign { status[7:5], status[1] } = 4'h0;
  assign status[4:2] = a[2:0];
  assign status[0] = a[3];
  assign copy = status;
  child c0 (
    .clk(clk),
    .id(8'd83),
    .s(status),
    .free(a),
    .k(k_out)
  );
  child c1 (
    .clk(clk),
    .id(8'd83),
    .s(copy),
    .free(4'h0),
    .k(k_out)
  );
  assign y = { k_out, a };
endmodule

module child(clk, id, s, free, k);
  input clk;
  wire clk;
  input [7:0] id;
  wire [7:0] id;
  input [7:0] s;
  wire [7:0] s;
  input [3:0] free;
  wire [3:0] free;
  output [3:0] k;
  wire [3:0] k;
  assign k = 4'h5;
endmodule
"""


def test_literals_ports_and_copies(tmp_path):
    path = tmp_path / "top.v"
    path.write_text(VERILOG)
    tied = tied_bits(path)
    assert tied[("top", "status")] == {7, 6, 5, 1}
    assert tied[("top", "copy")] == {7, 6, 5, 1}          # a whole-signal copy
    assert tied[("child", "id")] == set(range(8))          # a literal on every instance
    assert tied[("child", "s")] == {7, 6, 5, 1}            # tied in both instances
    assert ("child", "free") not in tied                   # tied in one instance only
    assert tied[("child", "k")] == set(range(4))           # a literal output...
    assert tied[("top", "k_out")] == set(range(4))         # ...ties what it drives
    assert ("top", "a") not in tied and ("top", "y") not in tied
