# Public ALB: HTTPS with the given ACM certificate, HTTP only redirects to HTTPS.
# Health checks call /livez, which answers 200 whatever the Host header (the ALB sends
# the target's IP) and checks no dependency, so a database hiccup never drains every task.

variable "name" { type = string }
variable "vpc_id" { type = string }
variable "subnet_ids" { type = list(string) }
variable "certificate_arn" { type = string }
variable "container_port" { type = number }
variable "deletion_protection" { type = bool }
variable "idle_timeout" { type = number }
variable "deregistration_delay" { type = number }

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public HTTP and HTTPS to the load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "HTTPS from anywhere"
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "HTTP from anywhere, answered only with a redirect to HTTPS"
  #checkov:skip=CKV_AWS_260:Port 80 only answers with a 301 to HTTPS (listener "http"); closing it breaks typed-in URLs.
}

resource "aws_vpc_security_group_egress_rule" "to_targets" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = var.container_port
  to_port           = var.container_port
  description       = "To the web tasks (their own group admits only this ALB)"
}

resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.idle_timeout
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket with an ELB-account policy; the app logs every request as JSON already.
  #checkov:skip=CKV2_AWS_28:A WAF is an account-wide choice (docs/deploy.md); the app throttles per user and per client.
  #checkov:skip=CKV_AWS_150:Deletion protection is a variable (deletion_protection), on in production.
}

resource "aws_lb_target_group" "web" {
  name                 = "${var.name}-web"
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay
  health_check {
    path                = "/livez"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; targets sit in private subnets behind a security group.
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
  #checkov:skip=CKV_AWS_2:This listener only redirects to HTTPS.
  #checkov:skip=CKV_AWS_103:This listener only redirects to HTTPS; TLS policy is on the HTTPS listener.
}

output "dns_name" { value = aws_lb.this.dns_name }
output "zone_id" { value = aws_lb.this.zone_id }
output "arn_suffix" { value = aws_lb.this.arn_suffix }
output "security_group_id" { value = aws_security_group.alb.id }
output "target_group_arn" { value = aws_lb_target_group.web.arn }
output "target_group_arn_suffix" { value = aws_lb_target_group.web.arn_suffix }
